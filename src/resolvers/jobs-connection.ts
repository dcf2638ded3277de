import type { Context } from './context.js';
import { badInput } from '../util/request-errors.js';
import { decodeCursor, encodeCursor, listJobs, type JobFilter, type Page } from '../services/job-history.js';
import type { JobQuery } from '../services/jobs.js';
import { DEFAULT_PAGE_SIZE, pageSize } from './page-size.js';

export interface ConnectionArgs {
  first?: number | null;
  after?: string | null;
  last?: number | null;
  before?: string | null;
}

function cursor(text: string | null | undefined, field: string) {
  if (text === null || text === undefined) return null;
  const decoded = decodeCursor(text);
  if (!decoded) throw badInput(field, 'cursor', 'is not a cursor returned by this connection');
  return decoded;
}

export function toPage(args: ConnectionArgs, newestFirst: boolean): Page {
  const backward = args.last !== null && args.last !== undefined;
  if (backward && args.first !== null && args.first !== undefined) {
    throw badInput('last', 'exclusive', 'cannot be combined with first');
  }
  if (backward) {
    if (args.after) throw badInput('after', 'exclusive', 'goes with first, not last');
    return { direction: 'backward', size: pageSize(args.last!, 'last'), cursor: cursor(args.before, 'before'), newestFirst };
  }
  if (args.before) throw badInput('before', 'exclusive', 'goes with last, not first');
  return {
    direction: 'forward',
    size: pageSize(args.first ?? DEFAULT_PAGE_SIZE, 'first'),
    cursor: cursor(args.after, 'after'),
    newestFirst,
  };
}

export async function resolveJobsConnection(
  ctx: Context,
  /** What to load of each job: the query's selection under edges.node. */
  query: JobQuery,
  filter: JobFilter,
  args: ConnectionArgs,
  newestFirst: boolean,
) {
  if (filter.createdAfter && filter.createdBefore && filter.createdAfter >= filter.createdBefore) {
    throw badInput('filter.createdBefore', 'after-created-after', 'must be later than createdAfter');
  }
  const page = toPage(args, newestFirst);
  const { jobs, hasMore } = await listJobs(ctx.db.prisma, ctx.apiKey.id, filter, page, query);
  const edges = jobs.map((job) => ({ cursor: encodeCursor(job), node: job }));
  return {
    edges,
    pageInfo: {
      startCursor: edges[0]?.cursor ?? null,
      endCursor: edges.at(-1)?.cursor ?? null,
      hasNextPage: page.direction === 'forward' ? hasMore : page.cursor !== null,
      hasPreviousPage: page.direction === 'backward' ? hasMore : page.cursor !== null,
    },
  };
}
