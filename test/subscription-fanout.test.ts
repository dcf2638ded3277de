// Many subscribers of one key: each event's result is computed once per distinct
// operation (src/server/shared-subscriptions.ts) and the subscriptions share one
// context (src/server/http-server.ts). Every subscriber must still get its own
// selection, and closing an idle subscription must free its place in the hub.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { collect, startTestApp, type TestApp } from './support/app.js';
import { createMutation, MODEL_CASES } from './support/fixtures.js';
import { waitUntil } from './support/wait.js';

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp({ worker: false });
});
afterAll(async () => {
  await t?.close();
});

const createV4 = createMutation('createFaceswapV4Job', 'CreateFaceswapV4JobInput');

describe('subscription fan-out', () => {
  it('subscribers with the same and with different selections each get their own answer; idle ones unsubscribe at once', async () => {
    const base = t.app.events.subscriberCount();
    const same = Array.from({ length: 5 }, () =>
      collect(t.wsClient(), `subscription { jobsUpdated { status job { id status } } }`, {}, (ev) => ev.length >= 1));
    const other = collect(t.wsClient(), `subscription { jobsUpdated { cursor job { model seed } } }`, {}, (ev) => ev.length >= 1);
    const withVars = collect(t.wsClient(), `subscription($s: [JobStatus!]) { jobsUpdated(filter: { status: $s }) { status } }`, { s: ['QUEUED'] }, (ev) => ev.length >= 1);
    const idle = collect(t.wsClient(), `subscription { jobsUpdated(filter: { model: [BODY_SWAP] }) { status } }`, {}, () => false, 60_000);
    await waitUntil(() => t.app.events.subscriberCount() === base + 8, () => `subscribers: ${t.app.events.subscriberCount()}`);

    const job = (await t.gql(createV4, { input: MODEL_CASES[0].input })).data.result;
    for (const s of same) expect((await s.finished)[0]).toEqual({ jobsUpdated: { status: 'QUEUED', job: { id: job.id, status: 'QUEUED' } } });
    const o = (await other.finished)[0].jobsUpdated;
    expect(o.job).toEqual({ model: 'FACESWAP_V4', seed: job.seed });
    expect(o.cursor).toMatch(/^\d+$/);
    expect(await withVars.finished).toEqual([{ jobsUpdated: { status: 'QUEUED' } }]);

    // The idle subscription never got an event; cancelling it must still reach the hub.
    idle.cancel();
    await waitUntil(() => t.app.events.subscriberCount() === base, () => `subscribers left: ${t.app.events.subscriberCount()}`);
    expect(idle.events).toEqual([]);
  });
});
