import type { Context } from '../schema/context.js';
import { notFoundError } from '../schema/errors.js';
import { decodeJobId } from '../schema/job-ids.js';
import type { JobEventWithJob } from '../services/event-hub.js';
import { findJob } from '../services/jobs.js';

/**
 * jobUpdated(id): the job's transitions so far, then live ones. Listening
 * starts before history is read, so no transition can fall between the two;
 * one seen twice is dropped by the subscription.
 */
export async function subscribeToJob(ctx: Context, globalId: string, field: string): Promise<AsyncIterable<JobEventWithJob>> {
  const { id: jobId, model } = decodeJobId(globalId, field);
  const job = await findJob(ctx.db.prisma, ctx.apiKey.id, jobId, model);
  if (!job) throw notFoundError(field, globalId);
  const sub = ctx.events.subscribe({ apiKeyId: ctx.apiKey.id, jobId });
  const past = await ctx.db.prisma.jobEvent.findMany({
    where: { jobId },
    orderBy: { id: 'asc' },
    include: { job: true },
  });
  return prepend(past, sub);
}

async function* prepend(past: JobEventWithJob[], live: AsyncIterableIterator<JobEventWithJob>) {
  const seen = new Set<string>();
  try {
    for (const e of past) {
      seen.add(e.id.toString());
      yield e;
    }
    for await (const e of live) {
      if (!seen.has(e.id.toString())) yield e;
    }
  } finally {
    await live.return?.();
  }
}
