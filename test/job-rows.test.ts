// The event hub gets an event and its job from the event's NOTIFY payload, or
// reads them with hand-written SQL when they did not fit in it
// (src/services/job-rows.ts); either must be exactly what Prisma would give, or
// subscription fields would differ from the same fields read through queries.
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findEventWithJob, readEventWithJob } from '../src/services/job-rows.js';
import { EVENTS_CHANNEL, type EventNotice } from '../src/services/job-transitions.js';
import { collect, startTestApp, waitForFinal, type TestApp } from './support/app.js';
import { createMutation, MODEL_CASES, TARGET_URL } from './support/fixtures.js';
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
    // Noise does not compress: a real PNG whose base64 alone is past the payload limit.
    const noisy = await sharp(randomBytes(64 * 64 * 3), { raw: { width: 64, height: 64, channels: 3 } }).png().toBuffer();
    const sourceImage = noisy.toString('base64');
    expect(sourceImage.length).toBeGreaterThan(8000);
    const client = t.wsClient();
    const base = t.app.events.subscriberCount();
    const done = collect(client, `subscription { jobsUpdated { status job { __typename ... on SwapJob { id status parameters } } } }`, {},
      (evs) => evs.some((e: any) => e.jobsUpdated.status === 'COMPLETED'));
    await waitUntil(() => t.app.events.subscriberCount() === base + 1, () => `subscribers: ${t.app.events.subscriberCount()}`);
    const { globalId, id } = await runJob({ sourceImage, targetImage: TARGET_URL });
    const received = await noticesOf(id, 3);
    expect(received.map((n) => [n.status, n.event])).toEqual([['QUEUED', null], ['SUBMITTED', null], ['COMPLETED', null]]);
    const live = (await done.finished).filter((e: any) => e.jobsUpdated.job.id === globalId);
    expect(live.map((e: any) => e.jobsUpdated.status)).toEqual(['QUEUED', 'SUBMITTED', 'COMPLETED']);
    expect(live.at(-1).jobsUpdated.job.status).toBe('COMPLETED');
    expect(JSON.stringify(live[0].jobsUpdated.job.parameters)).toContain(sourceImage.slice(0, 100));
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
