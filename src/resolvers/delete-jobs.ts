// deleteJob and deleteJobs: erase finished jobs of the caller's key
// (services/job-erasure.ts), leaving tombstones. Every refusal is typed and
// changes nothing.
import { GraphQLError } from 'graphql';
import type { Job } from '../generated/prisma/client.js';
import type { Context } from './context.js';
import { InvalidInput, NotFinished, NotFound } from './results.js';
import { decodeJobId } from '../models/job-ids.js';
import { eraseJobs } from '../services/job-erasure.js';
import { listJobs, type JobFilter } from '../services/job-history.js';
import { FINAL_STATUSES, type JobStatus } from '../services/job-status.js';
import { findJob } from '../services/jobs.js';
import { MAX_PAGE_SIZE } from './page-size.js';

export class JobDeleted {
  constructor(readonly job: Job) {}
}

export class JobsDeleted {
  constructor(readonly jobs: Job[], readonly hasMore: boolean) {}
  get count(): number {
    return this.jobs.length;
  }
}

const invalid = (field: string, rule: string, message: string) => new InvalidInput([{ field, rule, message }]);

export async function resolveDeleteJob(ctx: Context, rawId: string): Promise<JobDeleted | NotFound | NotFinished | InvalidInput> {
  let decoded: ReturnType<typeof decodeJobId>;
  try {
    decoded = decodeJobId(rawId, 'id');
  } catch {
    return invalid('id', 'global-id', 'id is not a job id');
  }
  const job = await findJob(ctx.db.prisma, ctx.apiKey.id, decoded.id, decoded.model, { select: { id: true, status: true, deletedAt: true } });
  if (!job) return new NotFound(rawId);
  if (!FINAL_STATUSES.includes(job.status)) return new NotFinished(rawId, job.status);
  // Deleting a tombstone again succeeds and changes nothing.
  if (!job.deletedAt) await eraseJobs(ctx.db.pool, ctx.artifacts, { ids: [decoded.id], apiKeyId: ctx.apiKey.id, mode: 'delete' });
  return new JobDeleted((await findJob(ctx.db.prisma, ctx.apiKey.id, decoded.id))!);
}

/**
 * Up to `first` (1–100) finished, not yet deleted jobs of the caller matching
 * `filter`, oldest first; `hasMore` says whether another call would find more.
 * `filter` builds the same filter as `jobs` (it throws BAD_USER_INPUT errors,
 * which become InvalidInputError here).
 */
export async function resolveDeleteJobs(
  ctx: Context,
  buildFilter: () => JobFilter,
  first: number,
): Promise<JobsDeleted | InvalidInput> {
  if (!Number.isInteger(first) || first < 1 || first > MAX_PAGE_SIZE) return invalid('first', 'range', `must be between 1 and ${MAX_PAGE_SIZE}`);
  let filter: JobFilter;
  try {
    filter = buildFilter();
  } catch (err) {
    const ext = err instanceof GraphQLError ? err.extensions : null;
    if (typeof ext?.field === 'string') return invalid(ext.field, String(ext.rule), err instanceof Error ? err.message.replace(/^[^:]*: /, '') : '');
    throw err;
  }
  if (filter.deleted === true) return invalid('filter.deleted', 'not-deleted', 'deleteJobs deletes jobs that are not deleted yet; leave it out');
  const statuses = (filter.statuses?.length ? filter.statuses : FINAL_STATUSES).filter((s: JobStatus) => FINAL_STATUSES.includes(s));
  if (statuses.length === 0) {
    return invalid('filter.status', 'final', `only finished jobs (${FINAL_STATUSES.join(', ')}) can be deleted; cancel running ones first`);
  }
  const { jobs, hasMore } = await listJobs(ctx.db.prisma, ctx.apiKey.id, { ...filter, statuses, deleted: false },
    { direction: 'forward', size: first, cursor: null, newestFirst: false }, { select: { id: true } });
  const erased = await eraseJobs(ctx.db.pool, ctx.artifacts, { ids: jobs.map((j) => j.id), apiKeyId: ctx.apiKey.id, mode: 'delete' });
  const rows = erased.length
    ? await ctx.db.prisma.job.findMany({ where: { id: { in: erased.map((e) => e.id) }, apiKeyId: ctx.apiKey.id }, orderBy: [{ createdAt: 'asc' }, { id: 'asc' }] })
    : [];
  return new JobsDeleted(rows as Job[], hasMore);
}
