// What every job has, whatever its model: the SwapJob interface, its status,
// its events and its output.
import type { ModelKey } from '../models/types.js';
import type { Job } from '../generated/prisma/client.js';
import { MODELS } from '../models/registry.js';
import { JOB_STATUSES } from '../services/job-status.js';
import { digitalSourceTypeFor } from '../services/labelling.js';
import { ensureServedOutput, OutputUnavailable, readServedOutput, type JobForLabel, type ServedFile } from '../services/served-outputs.js';
import { FAILURE_CODES, type FailureCode } from '../services/providers/types.js';
import { builder } from './builder.js';
import { ProviderEnum } from './providers.js';
import { jobGlobalId, jobTypeName } from '../models/job-ids.js';
import { OUTPUT_THUMBNAIL_SIZE } from '../models/thumbnail-sizes.js';
import { thumbnailLinkDescription, thumbnailUrl } from './image-inputs.js';
import { jobColumn, jobParams, JOB_ROW_SELECT } from '../resolvers/job-rows-select.js';

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
  /** The served (labelled) file, and the job its label names. */
  served: ServedFile;
  job: JobForLabel;
  inline: boolean;
  upstreamSha256: string;
  upstreamBytes: number;
  width: number | null;
  height: number | null;
}

interface LabelShape { label: string | null; provider: string }
const SyntheticMediaLabel = builder.objectRef<LabelShape>('SyntheticMediaLabel').implement({
  description: 'How the served image says it is synthetic (EU AI Act Art. 50(2)): XMP metadata and, when the server '
    + 'has a signing key, a C2PA manifest. Both false only when the operator turned labelling off (DISABLE_SYNTHETIC_MEDIA_LABEL) '
    + 'or the format cannot carry it in place.',
  fields: (t) => ({
    xmp: t.boolean({
      description: 'XMP with Iptc4xmpExt:DigitalSourceType and the job\'s id, model and provider.',
      resolve: (l) => Boolean(l.label?.split('+').includes('xmp')),
    }),
    c2pa: t.boolean({ description: 'A signed C2PA manifest (JPEG, PNG and WebP; when the operator configured a signing key).', resolve: (l) => Boolean(l.label?.split('+').includes('c2pa')) }),
    digitalSourceType: t.string({
      nullable: true,
      description: 'The IPTC NewsCodes term written, e.g. http://cv.iptc.org/newscodes/digitalsourcetype/compositeWithTrainedAlgorithmicMedia.',
      resolve: (l) => (l.label ? digitalSourceTypeFor(l.provider) : null),
    }),
  }),
});

const JobOutput = builder.objectRef<OutputShape>('JobOutput').implement({
  description: 'The finished image, kept by this service (the upstream deletes it after an hour), served with its synthetic-media label.',
  fields: (t) => ({
    url: t.string({
      description: 'Download link; send the same Authorization header as for the API. Serves the labelled bytes (sha256, bytes).',
      // Global ids are standard base64 and may hold '/' or '+'.
      resolve: (o, _args, ctx) => `${ctx.publicUrl}/outputs/${encodeURIComponent(o.jobId)}`,
    }),
    thumbnailUrl: t.string({
      description: `A ${thumbnailLinkDescription(OUTPUT_THUMBNAIL_SIZE)}`,
      resolve: (o, _args, ctx) => thumbnailUrl(ctx, o.jobId, 'output'),
    }),
    sha256: t.string({ description: 'sha256 of the bytes served (url, base64): the upstream\'s image with its label.', resolve: (o) => o.served.sha256 }),
    bytes: t.int({ description: 'Size of the bytes served.', resolve: (o) => o.served.bytes }),
    upstreamSha256: t.exposeString('upstreamSha256', {
      description: 'sha256 of the image as the upstream returned it, kept unchanged; what reproducibility compares.',
    }),
    upstreamBytes: t.exposeInt('upstreamBytes'),
    syntheticMediaLabel: t.field({ type: SyntheticMediaLabel, resolve: (o) => ({ label: o.served.label, provider: o.job.provider }) }),
    mimeType: t.string({ resolve: (o) => o.served.mimeType }),
    width: t.exposeInt('width', { nullable: true }),
    height: t.exposeInt('height', { nullable: true }),
    base64: t.string({
      nullable: true,
      description: 'The image served (labelled, as url), base64-encoded, for jobs created with base64: true (null otherwise).',
      resolve: async (o, _args, ctx) => {
        if (!o.inline) return null;
        // A missing file, or a label that cannot be made again as recorded: no bytes to give (the download says which).
        const bytes = await readServedOutput(ctx.artifacts, o.job, o.served).catch((err: unknown) => {
          if (err instanceof OutputUnavailable) return null;
          throw err;
        });
        return bytes?.toString('base64') ?? null;
      },
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
    model: t.field({ type: JobModelEnum, resolve: (job) => job.model as ModelKey }),
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
      resolve: async (job, _args, ctx) => {
        if (!job.outputSha256 || !job.outputMimeType || !job.outputKey) return null;
        const params = await jobParams(ctx, job);
        // Labelled at completion; a job from before labelling is labelled here, once (served-outputs.ts).
        const served = await ensureServedOutput(
          { pool: ctx.db.pool, artifacts: ctx.artifacts, labelling: ctx.config.labelling }, { ...job, params },
        );
        if (!served) return null;
        return {
          jobId: jobGlobalId(job), served, job: { ...job, params }, inline: params.base64 === true,
          upstreamSha256: job.outputSha256, upstreamBytes: job.outputBytes ?? 0, width: job.outputWidth, height: job.outputHeight,
        };
      },
    }),
    events: t.relation('events', {
      description: 'Every status transition, oldest first.',
      query: { orderBy: { id: 'asc' } },
    }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    updatedAt: t.expose('updatedAt', { type: 'DateTime' }),
    submittedAt: t.expose('submittedAt', { type: 'DateTime', nullable: true }),
    finishedAt: t.expose('finishedAt', { type: 'DateTime', nullable: true }),
    deletedAt: t.expose('deletedAt', {
      type: 'DateTime',
      nullable: true,
      description: 'Set once the job is deleted (deleteJob, deleteJobs, JOB_RETENTION_DAYS): it is then a tombstone, '
        + 'its model, status, seed, times and cost kept for the ledger, its images and their URLs erased (imagesErasedAt).',
    }),
    imagesErasedAt: t.expose('imagesErasedAt', {
      type: 'DateTime',
      nullable: true,
      description: 'Set once the input and output images are erased (by deletion, or IMAGE_RETENTION_DAYS after the job finished): '
        + 'the image fields and output are null, parameters hold null where images were, and their download links answer 410.',
    }),
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
