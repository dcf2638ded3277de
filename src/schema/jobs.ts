// Queries, mutations and subscriptions over jobs of every model.
import { queryFromInfo } from '@pothos/plugin-prisma';
import { resolveJobsConnection } from '../resolvers/jobs-connection.js';
import { subscribeToJob, subscribeToJobs } from '../resolvers/job-events.js';
import { cancelJob, findJob } from '../services/jobs.js';
import type { JobStatus } from '../services/job-status.js';
import { parseUsd, USD_RULE } from '../services/money.js';
import { builder } from './builder.js';
import {
  InvalidInput, InvalidInputError, JobNotCancelableError, NotCancelable, NotFound, NotFoundError, badInput, notFoundError,
} from './errors.js';
import { JobEventType, JobModelEnum, JobStatusEnum, SwapJob } from './job-interface.js';
import { decodeJobId } from './job-ids.js';

const JobFilter = builder.inputType('JobFilter', {
  fields: (t) => ({
    model: t.field({ type: [JobModelEnum], required: false, description: 'Any of these models.' }),
    status: t.field({ type: [JobStatusEnum], required: false, description: 'Any of these statuses.' }),
    seed: t.int({ required: false, description: 'Jobs run with exactly this seed.' }),
    createdAfter: t.field({ type: 'DateTime', required: false, description: 'Created at or after this instant.' }),
    createdBefore: t.field({ type: 'DateTime', required: false, description: 'Created before this instant.' }),
    rerunOf: t.id({ required: false, description: 'Reruns of this job.' }),
    costMin: t.string({ required: false, description: `Cost at least this many US dollars (${USD_RULE}): the charge of finished jobs, the estimate of others.` }),
    costMax: t.string({ required: false, description: 'Cost at most this many US dollars, as costMin.' }),
  }),
});

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
          {
            models: args.filter?.model,
            statuses: args.filter?.status as JobStatus[] | null | undefined,
            seed: args.filter?.seed,
            createdAfter: args.filter?.createdAfter,
            createdBefore: args.filter?.createdBefore,
            rerunOfId: args.filter?.rerunOf ? decodeJobId(args.filter.rerunOf, 'filter.rerunOf').id : undefined,
            ...costRange(args.filter?.costMin, args.filter?.costMax),
          },
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

const CancelJobResult = builder.unionType('CancelJobResult', {
  types: [JobCanceledType, NotFoundError, JobNotCancelableError, InvalidInputError],
  resolveType: (v) =>
    v instanceof JobCanceled ? JobCanceledType
      : v instanceof NotFound ? NotFoundError
        : v instanceof NotCancelable ? JobNotCancelableError
          : InvalidInputError,
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
    resolve: (event) => event as never,
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
    resolve: (event) => event as never,
  }),
}));
