// Queries, mutations and subscriptions over jobs of every model.
import { queryFromInfo } from '@pothos/plugin-prisma';
import { resolveJobsConnection } from '../resolvers/jobs-connection.js';
import { eventOrInterruption, subscribeToJob, subscribeToJobs } from '../resolvers/job-events.js';
import type { HubItem } from '../services/event-hub.js';
import { cancelJob, findJob } from '../services/jobs.js';
import type { JobStatus } from '../services/job-status.js';
import type { JobFilter as JobFilterInput } from '../services/job-history.js';
import { JobDeleted, JobsDeleted, resolveDeleteJob, resolveDeleteJobs } from '../resolvers/delete-jobs.js';
import { parseUsd, USD_RULE } from '../util/money.js';
import { builder } from './builder.js';
import { resultUnion } from './result-union.js';
import {
  InvalidInput, InvalidInputError, JobNotCancelableError, JobNotFinishedError, NotCancelable, NotFinished, NotFound, NotFoundError,
  badInput, notFoundError,
} from './errors.js';
import { JobEventType, JobModelEnum, JobStatusEnum, SwapJob } from './job-interface.js';
import { ProviderEnum } from './providers.js';
import { decodeJobId } from '../models/job-ids.js';

const JobFilter = builder.inputType('JobFilter', {
  fields: (t) => ({
    model: t.field({ type: [JobModelEnum], required: false, description: 'Any of these models.' }),
    status: t.field({ type: [JobStatusEnum], required: false, description: 'Any of these statuses.' }),
    provider: t.field({ type: [ProviderEnum], required: false, description: 'Run (or to be run) on any of these providers.' }),
    seed: t.int({ required: false, description: 'Jobs run with exactly this seed.' }),
    createdAfter: t.field({ type: 'DateTime', required: false, description: 'Created at or after this instant.' }),
    createdBefore: t.field({ type: 'DateTime', required: false, description: 'Created before this instant.' }),
    rerunOf: t.id({ required: false, description: 'Reruns of this job.' }),
    costMin: t.string({ required: false, description: `Cost at least this many US dollars (${USD_RULE}): the charge of finished jobs, the estimate of others.` }),
    costMax: t.string({ required: false, description: 'Cost at most this many US dollars, as costMin.' }),
    deleted: t.boolean({ required: false, description: 'true: only deleted jobs (tombstones); false: only jobs not deleted; left out: both.' }),
  }),
});

type JobFilterArg = typeof JobFilter.$inferInput;

/** The service's filter from the GraphQL one; BAD_USER_INPUT errors name the field. */
function jobFilter(filter: JobFilterArg | null | undefined): JobFilterInput {
  return {
    models: filter?.model,
    statuses: filter?.status as JobStatus[] | null | undefined,
    providers: filter?.provider,
    seed: filter?.seed,
    createdAfter: filter?.createdAfter,
    createdBefore: filter?.createdBefore,
    rerunOfId: filter?.rerunOf ? decodeJobId(filter.rerunOf, 'filter.rerunOf').id : undefined,
    deleted: filter?.deleted,
    ...costRange(filter?.costMin, filter?.costMax),
  };
}

function costRange(min: string | null | undefined, max: string | null | undefined) {
  const costMinMicros = costBound(min, 'filter.costMin');
  const costMaxMicros = costBound(max, 'filter.costMax');
  if (costMinMicros !== null && costMaxMicros !== null && costMinMicros > costMaxMicros) {
    throw badInput('filter.costMax', 'at-least-cost-min', 'must not be below costMin');
  }
  return { costMinMicros, costMaxMicros };
}

function costBound(value: string | null | undefined, field: string): bigint | null {
  if (value === null || value === undefined) return null;
  const micros = parseUsd(value);
  if (micros === null) throw badInput(field, 'usd', `must be ${USD_RULE}`);
  return micros;
}

const JobOrder = builder.enumType('JobOrder', {
  values: { CREATED_AT_DESC: { description: 'Newest first.' }, CREATED_AT_ASC: { description: 'Oldest first.' } },
});

const JobEventFilter = builder.inputType('JobEventFilter', {
  fields: (t) => ({
    model: t.field({ type: [JobModelEnum], required: false }),
    status: t.field({ type: [JobStatusEnum], required: false, description: 'Only transitions to these statuses.' }),
  }),
});

builder.queryFields((t) => ({
  job: t.field({
    type: SwapJob,
    nullable: true,
    description: 'One of your jobs by its global id.',
    args: { id: t.arg.id({ required: true }) },
    resolve: async (_root, args, ctx, info) => {
      const { id, model } = decodeJobId(args.id, 'id');
      // Only the columns and relations the query selects (job-rows-select.ts).
      const job = await findJob(ctx.db.prisma, ctx.apiKey.id, id, model, queryFromInfo({ context: ctx, info }));
      if (!job) throw notFoundError('id', args.id);
      return job;
    },
  }),
  jobs: t.connection(
    {
      type: SwapJob,
      description: 'Your jobs of every model, newest first unless orderBy says otherwise; first/last at most 100 (default first: 20).',
      args: {
        filter: t.arg({ type: JobFilter, required: false }),
        orderBy: t.arg({ type: JobOrder, required: true, defaultValue: 'CREATED_AT_DESC' }),
      },
      resolve: (_root, args, ctx, info) =>
        resolveJobsConnection(
          ctx,
          queryFromInfo({ context: ctx, info, path: ['edges', 'node'] }),
          jobFilter(args.filter),
          args,
          args.orderBy === 'CREATED_AT_DESC',
        ),
    },
    { name: 'SwapJobConnection' },
    { name: 'SwapJobEdge' },
  ),
}));

class JobCanceled {
  constructor(readonly job: unknown) {}
}
const JobCanceledType = builder.objectType(JobCanceled, {
  name: 'JobCanceled',
  fields: (t) => ({ job: t.field({ type: SwapJob, resolve: (p) => p.job as never }) }),
});

const CancelJobResult = resultUnion('CancelJobResult', {
  members: [[JobCanceled, JobCanceledType], [NotFound, NotFoundError], [NotCancelable, JobNotCancelableError], [InvalidInput, InvalidInputError]],
});

builder.mutationField('cancelJob', (t) =>
  t.field({
    type: CancelJobResult,
    description: 'Cancel a job that has not finished. A late upstream answer does not revive it.',
    args: { id: t.arg.id({ required: true }) },
    resolve: async (_root, args, ctx) => {
      let decoded: ReturnType<typeof decodeJobId>;
      try {
        decoded = decodeJobId(args.id, 'id');
      } catch {
        return new InvalidInput([{ field: 'id', rule: 'global-id', message: 'id is not a job id' }]);
      }
      const outcome = await cancelJob(ctx.db, ctx.apiKey.id, decoded.id, decoded.model);
      if (outcome.kind === 'not-found') return new NotFound(args.id);
      if (outcome.kind === 'already-final') return new NotCancelable(args.id, outcome.status);
      return new JobCanceled(outcome.job);
    },
  }),
);

const JobDeletedType = builder.objectType(JobDeleted, {
  name: 'JobDeleted',
  fields: (t) => ({ job: t.field({ type: SwapJob, description: 'The tombstone (deletedAt set, images null).', resolve: (p) => p.job as never }) }),
});

const DeleteJobResult = resultUnion('DeleteJobResult', {
  members: [[JobDeleted, JobDeletedType], [NotFound, NotFoundError], [NotFinished, JobNotFinishedError], [InvalidInput, InvalidInputError]],
});

const JobsDeletedType = builder.objectType(JobsDeleted, {
  name: 'JobsDeleted',
  fields: (t) => ({
    count: t.exposeInt('count', { description: 'Jobs deleted by this call.' }),
    jobs: t.field({ type: [SwapJob], description: 'Their tombstones, oldest first.', resolve: (p) => p.jobs as never }),
    hasMore: t.exposeBoolean('hasMore', { description: 'More jobs match: call again to delete the next ones.' }),
  }),
});

const DeleteJobsResult = resultUnion('DeleteJobsResult', { members: [[JobsDeleted, JobsDeletedType], [InvalidInput, InvalidInputError]] });

builder.mutationFields((t) => ({
  deleteJob: t.field({
    type: DeleteJobResult,
    description:
      "Delete one of your finished jobs: its input and output images are erased wherever they are kept (stored files, "
      + 'image URLs in its parameters, the upstream answer, its events\' detail and webhook logs); a tombstone stays '
      + '(model, status, seed, times, cost, and its ledger line). Deleting a deleted job changes nothing.',
    args: { id: t.arg.id({ required: true }) },
    resolve: (_root, args, ctx) => resolveDeleteJob(ctx, args.id) as never,
  }),
  deleteJobs: t.field({
    type: DeleteJobsResult,
    description:
      'Delete, as deleteJob does, up to `first` (1–100) of your finished jobs that match `filter` and are not deleted yet, '
      + 'oldest first; call again while hasMore is true.',
    args: {
      filter: t.arg({ type: JobFilter, required: true }),
      first: t.arg.int({ required: true, defaultValue: 100 }),
    },
    resolve: (_root, args, ctx) => resolveDeleteJobs(ctx, () => jobFilter(args.filter), args.first) as never,
  }),
}));

builder.subscriptionFields((t) => ({
  jobUpdated: t.field({
    type: JobEventType,
    description:
      "One job's status changes: its transitions after `since` (all of them when left out), then each new one as it commits.",
    args: {
      id: t.arg.id({ required: true }),
      since: t.arg.string({ required: false, description: 'A JobEvent.cursor; only events after it are sent.' }),
    },
    subscribe: (_root, args, ctx) => subscribeToJob(ctx, args.id, args.since) as never,
    resolve: (item) => eventOrInterruption(item as HubItem) as never,
  }),
  jobsUpdated: t.field({
    type: JobEventType,
    description:
      'Status changes of all your jobs, optionally filtered, as they commit. With `since` (the cursor of the last '
      + 'event you saw), every matching event after it is sent first, so a client that reconnects misses nothing.',
    args: {
      filter: t.arg({ type: JobEventFilter, required: false }),
      since: t.arg.string({ required: false, description: 'A JobEvent.cursor.' }),
    },
    subscribe: (_root, args, ctx) =>
      subscribeToJobs(ctx, { models: args.filter?.model ?? undefined, statuses: args.filter?.status ?? undefined }, args.since) as never,
    resolve: (item) => eventOrInterruption(item as HubItem) as never,
  }),
}));
