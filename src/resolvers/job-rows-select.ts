// What a job row loaded for GraphQL holds. The job types are in the Prisma
// plugin's select mode: a read loads the columns below, plus the relations
// the query asks for, and never `params` or `result`, the two JSON columns
// that can grow. A field that needs one of those reads it through
// `jobColumn`: a row that has it (a job just created, a live event's job)
// answers at once; the rows of one tick that lack it are read together, in
// one query for that column alone.
import { createContextCache } from '@pothos/core';
import DataLoader from 'dataloader';
import { Prisma } from '../generated/prisma/client.js';
import type { Context } from './context.js';

type HeavyColumn = 'params' | 'result';
const HEAVY: readonly string[] = ['params', 'result'] satisfies HeavyColumn[];

/** Every scalar column of jobs but the heavy ones: the type-level selection of every job type. */
export const JOB_ROW_SELECT = Object.fromEntries(
  Object.values(Prisma.JobScalarFieldEnum).filter((c) => !HEAVY.includes(c)).map((c) => [c, true]),
) as { [C in Exclude<Prisma.JobScalarFieldEnum, HeavyColumn>]: true };

// Batching only, no memo: subscriptions of one key share a context for as long
// as they run, and a memo would grow with every job they ever showed.
const loaders = createContextCache((ctx: Context) => {
  const loader = (column: HeavyColumn) => new DataLoader<string, unknown>(async (ids) => {
    const rows: Array<Record<string, unknown>> = await ctx.db.prisma.job.findMany({
      where: { id: { in: [...ids] }, apiKeyId: ctx.apiKey.id },
      select: { id: true, [column]: true },
    });
    const byId = new Map(rows.map((r) => [r.id as string, r[column]]));
    return ids.map((id) => byId.get(id) ?? null);
  }, { cache: false });
  return { params: loader('params'), result: loader('result') };
});

/** A heavy column of a job row: from the row when it has it, else read with the other rows that lack it. */
export function jobColumn<C extends HeavyColumn>(
  ctx: Context,
  job: { id: string } & Partial<Record<C, unknown>>,
  column: C,
): unknown {
  const value = job[column];
  return value !== undefined ? value : loaders(ctx)[column].load(job.id);
}

/** A job's params: the normalised wire parameters, with references for stored images. */
export async function jobParams(ctx: Context, job: { id: string; params?: unknown }): Promise<Record<string, unknown>> {
  return ((await jobColumn(ctx, job, 'params')) ?? {}) as Record<string, unknown>;
}
