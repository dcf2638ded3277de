// Subscriptions over a real graphql-ws connection, with the job run by a
// worker in another OS process: its transitions reach this API process only
// through PostgreSQL NOTIFY.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { collect, OBSERVABLE_STEPS, startTestApp, waitForFinal, type TestApp } from './support/app.js';
import { createMutation, MODEL_CASES } from './support/fixtures.js';
import { spawnWorker, stopProcess } from './support/processes.js';
import { PATIENCE_MS, waitUntil } from './support/wait.js';

let t: TestApp;
let worker: Awaited<ReturnType<typeof spawnWorker>> | null = null;
beforeAll(async () => {
  t = await startTestApp({ worker: false, emulator: OBSERVABLE_STEPS });
});
afterAll(async () => {
  if (worker) await stopProcess(worker);
  await t?.close();
});

const createV2 = createMutation('createFaceswapV2Job', 'CreateFaceswapV2JobInput');
const EVENT = `{ cursor status createdAt job { id status model ... on FaceswapV2Job { faceRestore } } }`;

describe('subscriptions with a worker in another process', () => {
  it('jobsUpdated and jobUpdated receive every transition, in order, each with the job', async () => {
    const base = t.app.events.subscriberCount();
    const all = collect(t.wsClient(), `subscription { jobsUpdated ${EVENT} }`, {},
      (ev) => ev.some((e: any) => e.jobsUpdated.status === 'COMPLETED'));
    const onlyFinal = collect(t.wsClient(), `subscription { jobsUpdated(filter: { status: [COMPLETED] }) ${EVENT} }`, {},
      (ev) => ev.length >= 1);
    const otherModel = collect(t.wsClient(), `subscription { jobsUpdated(filter: { model: [FACESWAP_V4] }) ${EVENT} }`, {},
      () => false, 2 * PATIENCE_MS);
    // The server has registered the three subscriptions before the job exists.
    await waitUntil(() => t.app.events.subscriberCount() === base + 3, () => `subscribers: ${t.app.events.subscriberCount()}`);

    const job = (await t.gql(createV2, { input: MODEL_CASES[2].input })).data.result;
    expect(job.status).toBe('QUEUED');
    // Subscribed after creation: it replays what happened so far, then goes live.
    const one = collect(t.wsClient(), `subscription($id: ID!) { jobUpdated(id: $id) ${EVENT} }`, { id: job.id },
      (ev) => ev.some((e: any) => e.jobUpdated.status === 'COMPLETED'));

    worker = await spawnWorker(t);
    const events = (await all.finished).map((e: any) => e.jobsUpdated);
    expect(events.map((e) => e.status)).toEqual(['QUEUED', 'SUBMITTED', 'PROCESSING', 'COMPLETED']);
    for (const e of events) {
      expect(e.job.id).toBe(job.id);
      expect(e.job.model).toBe('FACESWAP_V2');
      expect(e.job.faceRestore).toBe('CODEFORMER_V0_1_0');
    }
    const cursors = events.map((e) => BigInt(e.cursor));
    expect([...cursors].sort((a, b) => (a < b ? -1 : 1))).toEqual(cursors);
    expect(events.at(-1).job.status).toBe('COMPLETED');

    const single = (await one.finished).map((e: any) => e.jobUpdated.status);
    expect(single).toEqual(['QUEUED', 'SUBMITTED', 'PROCESSING', 'COMPLETED']);

    const final = (await onlyFinal.finished).map((e: any) => e.jobsUpdated);
    expect(final.map((e) => [e.status, e.job.id])).toEqual([['COMPLETED', job.id]]);

    otherModel.cancel();
    expect(otherModel.events).toEqual([]);
  });

  it('jobUpdated on a finished job replays its history and does not hang the connection', async () => {
    const job = (await t.gql(createV2, { input: MODEL_CASES[2].input })).data.result;
    await waitForFinal(t, job.id);
    const replay = collect(t.wsClient(), `subscription($id: ID!) { jobUpdated(id: $id) { status } }`, { id: job.id },
      (ev) => ev.length === 4);
    expect((await replay.finished).map((e: any) => e.jobUpdated.status)).toEqual(['QUEUED', 'SUBMITTED', 'PROCESSING', 'COMPLETED']);
  });

  it('a canceled job is announced to its subscribers', async () => {
    await stopProcess(worker!);
    worker = null;
    const job = (await t.gql(createV2, { input: MODEL_CASES[2].input })).data.result;
    const sub = collect(t.wsClient(), `subscription($id: ID!) { jobUpdated(id: $id) { status job { status } } }`, { id: job.id },
      (ev) => ev.some((e: any) => e.jobUpdated.status === 'CANCELED'));
    // Live before the cancel: its replay of the job so far has arrived.
    await waitUntil(() => sub.events.length >= 1, () => `events: ${JSON.stringify(sub.events)}`);
    await t.gql(`mutation($id: ID!) { cancelJob(id: $id) { __typename } }`, { id: job.id });
    expect((await sub.finished).map((e: any) => e.jobUpdated.status)).toEqual(['QUEUED', 'CANCELED']);
  });
});
