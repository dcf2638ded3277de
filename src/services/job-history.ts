// A key's job history as keyset pages, newest first by default. The cursor
// is the (created_at, id) of the edge, so a page costs one index range scan
// on jobs(api_key_id, created_at, id) however deep it is.
import type { Job, Prisma, PrismaClient } from '../generated/prisma/client.js';
import type { JobStatus } from './job-status.js';
import type { JobQuery } from './jobs.js';

export interface JobFilter {
  models?: readonly string[] | null;
  statuses?: readonly JobStatus[] | null;
  /** Provider names as stored ("segmind", "local"). */
  providers?: readonly string[] | null;
  seed?: number | null;
  createdAfter?: Date | null;
  createdBefore?: Date | null;
  rerunOfId?: string | null;
  /** Cost range in micro-dollars, inclusive: the charge of finished jobs, the estimate of the others. */
  costMinMicros?: bigint | null;
  costMaxMicros?: bigint | null;
  /** true: tombstones only; false: jobs not deleted; left out: both. */
  deleted?: boolean | null;
}

export interface Page {
  /** Forward: `first` after `after`; backward: `last` before `before`. */
  direction: 'forward' | 'backward';
  size: number;
  cursor: Cursor | null;
  newestFirst: boolean;
}

export interface Cursor {
  createdAt: Date;
  id: string;
}

export function encodeCursor(job: { createdAt: Date; id: string }): string {
  return Buffer.from(`${job.createdAt.toISOString()}|${job.id}`).toString('base64url');
}

/** null when the text is not a cursor this service made. */
export function decodeCursor(text: string): Cursor | null {
  const [iso, id, extra] = Buffer.from(text, 'base64url').toString('utf8').split('|');
  if (!iso || !id || extra !== undefined) return null;
  const createdAt = new Date(iso);
  if (Number.isNaN(createdAt.getTime()) || createdAt.toISOString() !== iso) return null;
  if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(id)) return null;
  return { createdAt, id };
}

/**
 * A page of the key's jobs, loaded with `query` (the GraphQL query's select,
 * which always holds id and createdAt, the cursor's columns); every column without.
 */
export async function listJobs(
  prisma: PrismaClient,
  apiKeyId: string,
  filter: JobFilter,
  page: Page,
  query: JobQuery = {},
): Promise<{ jobs: Job[]; hasMore: boolean }> {
  const where: Prisma.JobWhereInput = { apiKeyId };
  if (filter.models?.length) where.model = { in: [...filter.models] };
  if (filter.statuses?.length) where.status = { in: [...filter.statuses] };
  if (filter.providers?.length) where.provider = { in: [...filter.providers] };
  if (filter.seed !== undefined && filter.seed !== null) where.seed = filter.seed;
  if (filter.rerunOfId) where.rerunOfId = filter.rerunOfId;
  if (filter.deleted === true) where.deletedAt = { not: null };
  if (filter.deleted === false) where.deletedAt = null;
  if (filter.createdAfter || filter.createdBefore) {
    where.createdAt = {
      ...(filter.createdAfter ? { gte: filter.createdAfter } : {}),
      ...(filter.createdBefore ? { lt: filter.createdBefore } : {}),
    };
  }
  if (filter.costMinMicros != null || filter.costMaxMicros != null) {
    const range = {
      ...(filter.costMinMicros != null ? { gte: filter.costMinMicros } : {}),
      ...(filter.costMaxMicros != null ? { lte: filter.costMaxMicros } : {}),
    };
    where.OR = [{ chargedMicros: range }, { chargedMicros: null, estimatedMicros: range }];
  }
  // Walking backward is walking the other order forward, then flipping the page.
  const descending = page.newestFirst === (page.direction === 'forward');
  const dir = descending ? 'desc' : 'asc';
  const beyond = descending ? 'lt' : 'gt';
  // The OR alone is not an index condition: PostgreSQL would walk the key's index
  // from its newest entry and filter its way down to the cursor, so page n cost
  // O(n). The redundant created_at bound (lte/gte the cursor) starts the range
  // scan at the cursor instead.
  const keyset: Prisma.JobWhereInput | null = page.cursor
    ? {
        createdAt: { [descending ? 'lte' : 'gte']: page.cursor.createdAt },
        OR: [
          { createdAt: { [beyond]: page.cursor.createdAt } },
          { createdAt: page.cursor.createdAt, id: { [beyond]: page.cursor.id } },
        ],
      }
    : null;
  const rows: Job[] = await prisma.job.findMany({
    ...(query as object),
    where: keyset ? { AND: [where, keyset] } : where,
    orderBy: [{ createdAt: dir }, { id: dir }],
    take: page.size + 1,
  });
  const hasMore = rows.length > page.size;
  const jobs = rows.slice(0, page.size);
  if (page.direction === 'backward') jobs.reverse();
  return { jobs, hasMore };
}
