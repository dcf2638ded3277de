// Subscriptions that miss nothing. Listening starts before history is read,
// so no event can fall between the two; an event seen in both is sent once.
// Event ids of one API key commit in id order (job-transitions.ts), so "every
// event after cursor c" is exact: a reconnecting client passes the cursor of
// the last event it saw. A subscription the event hub could not keep whole
// (event-hub.ts) ends with EVENTS_INTERRUPTED, naming the cursor to resume after.
import { GraphQLError } from 'graphql';
import type { Prisma } from '../generated/prisma/client.js';
import type { Context } from './context.js';
import { badInput, notFoundError } from '../util/request-errors.js';
import { decodeJobId } from '../models/job-ids.js';
import { JOB_ROW_SELECT } from './job-rows-select.js';
import { EventsInterrupted, type EventFilter, type HubItem } from '../services/event-hub.js';
import type { EventWithJob } from '../services/job-rows.js';
import { findJob } from '../services/jobs.js';
import type { JobStatus } from '../services/job-status.js';

const REPLAY_BATCH = 500;

export function parseEventCursor(raw: string | null | undefined, field: string): bigint | null {
  if (raw === null || raw === undefined) return null;
  if (!/^\d{1,19}$/.test(raw)) throw badInput(field, 'cursor', 'is not an event cursor (JobEvent.cursor)');
  return BigInt(raw);
}

/** A subscription item as the subscription field resolves it: the event, or the typed error that ends it. */
export function eventOrInterruption(item: HubItem): EventWithJob {
  if (!(item instanceof EventsInterrupted)) return item;
  const since = item.resumeAfter === null ? 'the cursor of the last event you received' : `"${item.resumeAfter}"`;
  throw new GraphQLError(`Live events were interrupted (${item.reason}); subscribe again with since: ${since} to receive every event after it.`, {
    extensions: { code: 'EVENTS_INTERRUPTED', resumeAfter: item.resumeAfter === null ? null : item.resumeAfter.toString() },
  });
}

async function* replayThenLive(
  ctx: Context,
  filter: EventFilter,
  since: bigint | null,
): AsyncGenerator<HubItem> {
  const live = ctx.events.subscribe(filter);
  let last = since ?? -1n;
  try {
    const where: Prisma.JobEventWhereInput = {
      apiKeyId: filter.apiKeyId,
      ...(filter.jobId ? { jobId: filter.jobId } : {}),
      ...(filter.statuses?.length ? { status: { in: filter.statuses as JobStatus[] } } : {}),
      ...(filter.models?.length ? { job: { model: { in: [...filter.models] } } } : {}),
    };
    for (;;) {
      const batch = await ctx.db.prisma.jobEvent.findMany({
        where: { ...where, id: { gt: last } },
        orderBy: { id: 'asc' },
        take: REPLAY_BATCH,
        // Without params and result, as every job read (job-rows-select.ts): a field that needs them loads them.
        include: { job: { select: JOB_ROW_SELECT } },
      }) as EventWithJob[];
      for (const e of batch) {
        last = e.id;
        yield e;
      }
      if (batch.length < REPLAY_BATCH) break;
    }
    for await (const e of live) {
      if (e instanceof EventsInterrupted) {
        // History may have run ahead of the hub: resume after whichever is later.
        const after = e.resumeAfter === null || e.resumeAfter < last ? last : e.resumeAfter;
        yield new EventsInterrupted(after < 0n ? null : after, e.reason);
        return;
      }
      if (e.id > last) {
        last = e.id;
        yield e;
      }
    }
  } finally {
    await live.return();
  }
}

/** jobUpdated(id, since): the job's transitions after `since` (all of them by default), then live ones. */
export async function subscribeToJob(
  ctx: Context,
  globalId: string,
  since: string | null | undefined,
): Promise<AsyncIterable<HubItem>> {
  const cursor = parseEventCursor(since, 'since');
  const { id: jobId, model } = decodeJobId(globalId, 'id');
  const job = await findJob(ctx.db.prisma, ctx.apiKey.id, jobId, model, { select: { id: true } });
  if (!job) throw notFoundError('id', globalId);
  return replayThenLive(ctx, { apiKeyId: ctx.apiKey.id, jobId }, cursor);
}

/** jobsUpdated(filter, since): with a cursor, every matching event after it first; without, live events only. */
export function subscribeToJobs(
  ctx: Context,
  filter: { models?: readonly string[]; statuses?: readonly string[] },
  since: string | null | undefined,
): AsyncIterable<HubItem> {
  const cursor = parseEventCursor(since, 'since');
  const eventFilter: EventFilter = { apiKeyId: ctx.apiKey.id, ...filter };
  if (cursor === null) return ctx.events.subscribe(eventFilter);
  return replayThenLive(ctx, eventFilter, cursor);
}
