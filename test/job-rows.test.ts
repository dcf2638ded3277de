// The event hub gets an event and its job from the event's NOTIFY payload, or
// reads them with hand-written SQL when they did not fit in it
// (src/services/job-rows.ts); either must be exactly what Prisma would give, or
// subscription fields would differ from the same fields read through queries.
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findEventWithJob, readEventWithJob } from '../src/services/job-rows.js';
import { EVENTS_CHANNEL, type EventNotice } from '../src/services/job-transitions.js';
import { collect, startTestApp, waitForFinal, type TestApp } from './support/app.js';
import { createMutation, MODEL_CASES } from './support/fixtures.js';
import { jobUuid } from './support/processes.js';
import { waitUntil } from './support/wait.js';

let t: TestApp;
let listener: pg.Client;
const notices: EventNotice[] = [];
beforeAll(async () => {
  t = await startTestApp();
  listener = new pg.Client({ connectionString: t.databaseUrl });
  listener.on('notification', (msg) => notices.push(JSON.parse(msg.payload!)));
  await listener.connect();
  await listener.query(`LISTEN ${EVENTS_CHANNEL}`);
});
afterAll(async () => {
  await listener?.end();
  await t?.close();
});

async function runJob(input: Record<string, unknown>): Promise<{ globalId: string; id: string }> {
  const res = await t.gql(createMutation('createFaceswapV4Job', 'CreateFaceswapV4JobInput'), { input });
  expect(res.data?.result?.id, JSON.stringify(res)).toBeTruthy();
  await waitForFinal(t, res.data.result.id);
  return { globalId: res.data.result.id, id: jobUuid(res.data.result.id) };
}

async function noticesOf(jobId: string, count: number): Promise<EventNotice[]> {
  // A notification can trail the commit that the final status was read after.
  const of = () => notices.filter((n) => n.jobId === jobId);
  return waitUntil(() => of().length >= count && of(), () => `notices of ${jobId}: ${JSON.stringify(of())}`, { everyMs: 10 });
}

describe('the event notice payload', () => {
  it('carries each event with its job as that statement left it, in exactly the shape Prisma reads', async () => {
    const { id } = await runJob({ ...MODEL_CASES[0].input, idempotencyKey: 'payload-1' });
    const events = await t.app.db.prisma.jobEvent.findMany({ where: { jobId: id }, include: { job: true }, orderBy: { id: 'asc' } });
    const received = await noticesOf(id, events.length);
    expect(received.map((n) => n.status)).toEqual(['QUEUED', 'SUBMITTED', 'COMPLETED']);
    for (const [i, notice] of received.entries()) {
      expect(notice.event).toBeTruthy();
      const { job, ...event } = readEventWithJob(notice.event!);
      const { job: _now, ...stored } = events[i]!;
      expect(event).toStrictEqual(stored);
      expect(job.status).toBe(event.status);
    }
    // The last event's job is the job as it is now: every kind of column set, all equal.
    expect(readEventWithJob(received[2]!.event!)).toStrictEqual(events[2]);
    expect(events[2]!.job.chargedMicros).toBeTypeOf('bigint');
    expect(events[2]!.job.outputWidth).toBeTypeOf('number');
  });

  it('leaves the rows out when they would not fit in a NOTIFY, and subscribers still get them, read back', async () => {
    // Inline images no longer make a row large (they go to the artifact store); a large
    // upstream answer in `result` still can. A service without a worker, so the job waits
    // for the test to make its row large, then to cancel it.
    const quiet = await startTestApp({ worker: false });
    const own = new pg.Client({ connectionString: quiet.databaseUrl });
    const seen: EventNotice[] = [];
    try {
      own.on('notification', (msg) => seen.push(JSON.parse(msg.payload!)));
      await own.connect();
      await own.query(`LISTEN ${EVENTS_CHANNEL}`);
      const done = collect(quiet.wsClient(), `subscription { jobsUpdated { status job { __typename ... on SwapJob { id status notApplied { note } } } } }`, {},
        (evs) => evs.some((e: any) => e.jobsUpdated.status === 'CANCELED'));
      await waitUntil(() => quiet.app.events.subscriberCount() === 1, () => `subscribers: ${quiet.app.events.subscriberCount()}`);
      const res = await quiet.gql(createMutation('createFaceswapV4Job', 'CreateFaceswapV4JobInput'), { input: MODEL_CASES[0].input });
      const globalId = res.data.result.id;
      const note = 'n'.repeat(9000);
      await quiet.app.db.pool.query(`UPDATE jobs SET result = $2::jsonb WHERE id = $1`,
        [jobUuid(globalId), JSON.stringify({ notApplied: [{ option: 'steps', value: 8, note }] })]);
      expect((await quiet.gql(`mutation($id: ID!) { cancelJob(id: $id) { __typename } }`, { id: globalId })).data.cancelJob.__typename).toBe('JobCanceled');
      const live = (await done.finished).filter((e: any) => e.jobsUpdated.job.id === globalId);
      expect(live.map((e: any) => e.jobsUpdated.status)).toEqual(['QUEUED', 'CANCELED']);
      expect(live[1].jobsUpdated.job).toMatchObject({ status: 'CANCELED', notApplied: [{ note }] });
      const received = await waitUntil(() => {
        const mine = seen.filter((n) => n.jobId === jobUuid(globalId));
        return mine.length === 2 && mine;
      }, () => `notices: ${JSON.stringify(seen.map((n) => n.status))}`);
      expect(received.map((n) => [n.status, n.event === null])).toEqual([['QUEUED', false], ['CANCELED', true]]);
    } finally {
      await own.end();
      await quiet.close();
    }
  });
});

describe('findEventWithJob', () => {
  it('equals prisma.jobEvent.findUnique({ include: { job: true } }) for every event of a finished job', async () => {
    const res = await t.gql(createMutation('createFaceswapV4Job', 'CreateFaceswapV4JobInput'), { input: { ...MODEL_CASES[0].input, idempotencyKey: 'rows-1' } });
    const id = jobUuid(res.data.result.id);
    await waitForFinal(t, res.data.result.id);
    const events = await t.app.db.prisma.jobEvent.findMany({ where: { jobId: id }, include: { job: true }, orderBy: { id: 'asc' } });
    expect(events.map((e) => e.status)).toEqual(['QUEUED', 'SUBMITTED', 'COMPLETED']);
    // Every kind of column is set on the finished job: bigint, json, dates, nullable ints.
    expect(events[2]!.job.chargedMicros).toBeTypeOf('bigint');
    expect(events[2]!.job.result).not.toBeNull();
    for (const e of events) expect(await findEventWithJob(t.app.db.pool, e.id)).toStrictEqual(e);
  });

  it('is null for an event that does not exist', async () => {
    expect(await findEventWithJob(t.app.db.pool, 999_999_999n)).toBeNull();
  });
});
