// What every job has, whatever its model: the SwapJob interface, its status,
// its events and its output.
import type { Job } from '../generated/prisma/client.js';
import { MODELS } from '../models/registry.js';
import { JOB_STATUSES } from '../services/job-status.js';
import { FAILURE_CODES, type FailureCode } from '../services/providers/types.js';
import { builder } from './builder.js';
import { ProviderEnum } from './providers.js';
import { jobGlobalId, jobTypeName } from './job-ids.js';
import { jobColumn, jobParams, JOB_ROW_SELECT } from './job-rows-select.js';

export const JobStatusEnum = builder.enumType('JobStatus', {
  description: 'QUEUED → SUBMITTED → PROCESSING → COMPLETED | FAILED | CANCELED.',
  values: JOB_STATUSES,
});

export const JobModelEnum = builder.enumType('JobModel', {
  values: Object.fromEntries(MODELS.map((m) => [m.key, { value: m.key, description: `${m.slug}: ${m.description}` }])),
});

export const FailureCodeEnum = builder.enumType('FailureCode', { values: FAILURE_CODES });

interface FailureShape { code: string; message: string }
const JobFailure = builder.objectRef<FailureShape>('JobFailure').implement({
  description: 'Why a job ended FAILED.',
  fields: (t) => ({
    code: t.field({ type: FailureCodeEnum, resolve: (f) => f.code as FailureCode }),
    message: t.exposeString('message', { description: "The upstream's detail where it gave one." }),
  }),
});

interface OutputShape {
  jobId: string;
  key: string;
  inline: boolean;
  sha256: string;
  bytes: number;
  mimeType: string;
  width: number | null;
  height: number | null;
}
const JobOutput = builder.objectRef<OutputShape>('JobOutput').implement({
  description: 'The finished image, kept by this service (the upstream deletes it after an hour).',
  fields: (t) => ({
    url: t.string({
      description: 'Download link; send the same Authorization header as for the API.',
      // Global ids are standard base64 and may hold '/' or '+'.
      resolve: (o, _args, ctx) => `${ctx.publicUrl}/outputs/${encodeURIComponent(o.jobId)}`,
    }),
    sha256: t.exposeString('sha256'),
    bytes: t.exposeInt('bytes'),
    mimeType: t.exposeString('mimeType'),
    width: t.exposeInt('width', { nullable: true }),
    height: t.exposeInt('height', { nullable: true }),
    base64: t.string({
      nullable: true,
      description: 'The image itself, base64-encoded, for jobs created with base64: true (null otherwise).',
      resolve: async (o, _args, ctx) => (o.inline ? ((await ctx.artifacts.read(o.key))?.toString('base64') ?? null) : null),
    }),
  }),
});

interface NotAppliedShape { option: string; value: unknown; note: string }

const NotAppliedOption = builder.objectRef<NotAppliedShape>('NotAppliedOption').implement({
  description: 'An option the provider accepted but has no equivalent for, said so rather than dropped silently.',
  fields: (t) => ({
    option: t.string({ description: 'The upstream field name.', resolve: (o) => o.option }),
    value: t.string({ resolve: (o) => String(o.value) }),
    note: t.string({ resolve: (o) => o.note }),
  }),
});

export const SwapJob = builder.prismaInterface('Job', {
  name: 'SwapJob',
  interfaces: [builder.nodeInterfaceRef()],
  // Rows are loaded without params and result (job-rows-select.ts); the variants select the same.
  select: JOB_ROW_SELECT,
  description: 'A swap job of any model. Each model has its own type with its typed parameters.',
  resolveType: (job) => jobTypeName(job.model),
  fields: (t) => ({
    id: t.id({ description: 'Global id.', resolve: (job) => jobGlobalId(job) }),
    model: t.field({ type: JobModelEnum, resolve: (job) => job.model }),
    status: t.field({ type: JobStatusEnum, resolve: (job) => job.status }),
    provider: t.field({ type: ProviderEnum, description: 'Where the job runs: Segmind (or its emulator) or the local engine.', resolve: (job) => job.provider as 'segmind' | 'local' }),
    seed: t.exposeInt('seed', { nullable: true, description: 'The seed sent upstream (models with a seed only).' }),
    parameters: t.field({
      type: 'JSON',
      description: 'The full normalised parameters (wire names, defaults filled in). An inline image is shown as the '
        + 'reference to its stored bytes, { "artifact": { sha256, contentType, bytes, width, height, key } }, '
        + 'and is sent upstream as base64 of those bytes.',
      resolve: (job, _args, ctx) => jobParams(ctx, job),
    }),
    upstreamRequestId: t.exposeString('upstreamRequestId', { nullable: true }),
    notApplied: t.field({
      type: [NotAppliedOption],
      description: 'Options the provider ran the job without (the local engine has no face restore, no diffusion steps, …); empty for Segmind.',
      resolve: async (job, _args, ctx) => {
        const list = ((await jobColumn(ctx, job, 'result')) as { notApplied?: unknown } | null)?.notApplied;
        return Array.isArray(list) ? (list as NotAppliedShape[]) : [];
      },
    }),
    failure: t.field({
      type: JobFailure,
      nullable: true,
      resolve: (job) => (job.status === 'FAILED' && job.errorCode ? { code: job.errorCode, message: job.errorMessage ?? '' } : null),
    }),
    output: t.field({
      type: JobOutput,
      nullable: true,
      resolve: async (job, _args, ctx) =>
        job.outputSha256 && job.outputMimeType && job.outputKey
          ? {
              jobId: jobGlobalId(job), key: job.outputKey, inline: (await jobParams(ctx, job)).base64 === true,
              sha256: job.outputSha256, bytes: job.outputBytes ?? 0,
              mimeType: job.outputMimeType, width: job.outputWidth, height: job.outputHeight,
            }
          : null,
    }),
    events: t.relation('events', {
      description: 'Every status transition, oldest first.',
      query: { orderBy: { id: 'asc' } },
    }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    updatedAt: t.expose('updatedAt', { type: 'DateTime' }),
    submittedAt: t.expose('submittedAt', { type: 'DateTime', nullable: true }),
    finishedAt: t.expose('finishedAt', { type: 'DateTime', nullable: true }),
  }),
});

export const JobEventType = builder.prismaObject('JobEvent', {
  description: 'One status transition of a job.',
  fields: (t) => ({
    cursor: t.string({
      description: 'Position of this event in the event log (increasing).',
      resolve: (e) => e.id.toString(),
    }),
    status: t.field({ type: JobStatusEnum, description: 'The status the job moved to.', resolve: (e) => e.status }),
    detail: t.field({ type: 'JSON', nullable: true, resolve: (e) => e.detail }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    job: t.relation('job', {
      description: 'The job: as this event left it when the event is pushed live (its status is the event\'s); '
        + 'as it is now when the event is read later or replayed.',
      // Loaded with the event when the query that read the event planned it (a page of
      // jobs with their events). Otherwise: events pushed live or replayed carry their
      // job (event-hub.ts, job-events.ts); any other is read with the columns this
      // query selects, the jobs of one tick in one query (Prisma batches findUnique).
      resolve: async (query, e, _args, ctx) =>
        (e as { job?: Job }).job
          ?? (await ctx.db.prisma.job.findUnique({ ...query, where: { id: e.jobId } }))
          ?? Promise.reject(new Error(`event ${e.id} has no job`)),
    }),
  }),
});
