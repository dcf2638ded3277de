// The typed client (src/client) against the real API, its emulator upstream and
// real graphql-ws connections: run resolves when the job ends, errors come back
// as values, subscriptions resume after a dropped connection without a gap.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { createClient, type JobEvent } from '../src/client/index.js';
import { startTestApp, type TestApp } from './support/app.js';
import { SOURCE_URL, TARGET_URL } from './support/fixtures.js';
import { proxyDatabase } from './support/tcp-proxy.js';
import { waitUntil } from './support/wait.js';

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp();
});
afterAll(async () => {
  await t?.close();
});

const clientOf = (key: string, url = t.url) => createClient({ url, apiKey: key, webSocketImpl: WebSocket });

describe('createClient', () => {
  it('run creates a job and resolves with it finished, every status seen in order', async () => {
    const client = clientOf(t.key);
    const seen: string[] = [];
    const r = await client.run('FACESWAP_V4', { sourceImage: SOURCE_URL, targetImage: TARGET_URL, seed: 7 }, { onEvent: (e) => seen.push(e.status) });
    await client.close();
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.value).toMatchObject({ __typename: 'FaceswapV4Job', status: 'COMPLETED', seed: 7, provider: 'SEGMIND' });
    expect(r.value.output?.url).toMatch(/\/outputs\//);
    expect(r.value.events.map((e) => e.status)).toEqual(seen);
    expect(seen[0]).toBe('QUEUED');
    expect(seen.at(-1)).toBe('COMPLETED');
  });

  it('an invalid input is an InvalidInputError value naming the field, and creates nothing', async () => {
    const key = await t.newKey('invalid');
    const client = clientOf(key);
    const r = await client.run('FACESWAP_V4', { sourceImage: SOURCE_URL, targetImage: TARGET_URL, imageQuality: 5 });
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.error).toMatchObject({ __typename: 'InvalidInputError', field: 'input.imageQuality' });
    expect(r.error.message).toMatch(/10/);
    const jobs = await client.jobs();
    expect(jobs.ok && jobs.value.edges).toEqual([]);
  });

  it('a bad key is a RequestError value with the 401, never a throw', async () => {
    const client = clientOf('sk_not_a_key');
    const r = await client.jobs();
    expect(r).toMatchObject({ ok: false, error: { __typename: 'RequestError', status: 401, code: 'UNAUTHENTICATED' } });
    const run = await client.run('BODY_SWAP', {});
    expect(run).toMatchObject({ ok: false, error: { __typename: 'RequestError', status: 401 } });
  });

  it('an unreachable server is a NETWORK RequestError value', async () => {
    const client = createClient({ url: 'http://127.0.0.1:1/', apiKey: t.key, webSocketImpl: WebSocket });
    expect(await client.viewer()).toMatchObject({ ok: false, error: { __typename: 'RequestError', status: 0, code: 'NETWORK' } });
  });

  it('a job that fails upstream ends run with a JobEndedError carrying the job', async () => {
    t.emulator.injectFault({ match: { model: 'faceswap-v2' }, outcome: 'FAILED', times: 1 });
    const client = clientOf(t.key);
    const r = await client.run('FACESWAP_V2', { sourceImage: SOURCE_URL, targetImage: TARGET_URL });
    await client.close();
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.error).toMatchObject({ __typename: 'JobEndedError', status: 'FAILED', job: { status: 'FAILED' } });
    expect(r.error.message.length).toBeGreaterThan(0);
  });

  it('rerun of an exact job is REPRODUCED; of an unknown id, a NotFoundError value', async () => {
    const client = clientOf(t.key);
    const first = await client.run('FACESWAP_V4', { sourceImage: SOURCE_URL, targetImage: TARGET_URL, seed: 11 });
    expect(first.ok).toBe(true);
    if (!first.ok) return;
    const rerun = await client.rerun(first.value.id);
    expect(rerun).toMatchObject({ ok: true, value: { rerunOf: { id: first.value.id }, seed: 11 } });
    if (!rerun.ok) return;
    const done = await client.waitForJob(rerun.value.id);
    await client.close();
    expect(done).toMatchObject({ ok: true, value: { status: 'COMPLETED', reproducibility: 'REPRODUCED' } });
    const missing = await client.rerun(first.value.id.slice(0, -2) + 'zz');
    expect(missing).toMatchObject({ ok: false });
    if (!missing.ok) expect(['NotFoundError', 'InvalidInputError']).toContain(missing.error.__typename);
  });

  it('jobs pages over the Relay connection, newest first', async () => {
    const key = await t.newKey('pages');
    const client = clientOf(key);
    const ids: string[] = [];
    for (const seed of [1, 2, 3]) {
      const c = await client.create('FACESWAP_V4', { sourceImage: SOURCE_URL, targetImage: TARGET_URL, seed });
      if (c.ok) ids.push(c.value.id);
    }
    const page1 = await client.jobs({ first: 2 });
    expect(page1.ok).toBe(true);
    if (!page1.ok) return;
    expect(page1.value.edges.map((e) => e.node.id)).toEqual([ids[2], ids[1]]);
    expect(page1.value.pageInfo.hasNextPage).toBe(true);
    const page2 = await client.jobs({ first: 2, after: page1.value.pageInfo.endCursor! });
    expect(page2.ok && page2.value.edges.map((e) => e.node.id)).toEqual([ids[0]]);
  });

  it('spend reports the charges of the key by day and model, and its usage', async () => {
    const key = await t.newKey('spender');
    const client = clientOf(key);
    const r = await client.run('FACESWAP_V4', { sourceImage: SOURCE_URL, targetImage: TARGET_URL, seed: 3 });
    await client.close();
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    const charged = r.value.cost.charged!;
    const day = 86_400_000;
    const s = await client.spend({ from: new Date(Date.now() - day), to: new Date(Date.now() + day) });
    expect(s.ok).toBe(true);
    if (!s.ok) return;
    expect(s.value.creditSpend.total.micros).toBe(charged.micros);
    expect(s.value.creditSpend.groups).toEqual([
      expect.objectContaining({ model: 'FACESWAP_V4', count: 1, day: new Date().toISOString().slice(0, 10) }),
    ]);
    expect(s.value.usage.spentTotal.micros).toBe(charged.micros);
  });

  it('a subscription resumes after a dropped connection with the events it missed, none twice', async () => {
    const proxy = await proxyDatabase(t.url.replace('http', 'postgresql'));
    const key = await t.newKey('resume');
    const client = clientOf(key, proxy.url.replace('postgresql', 'http'));
    const events: JobEvent[] = [];
    const stop = client.subscribe({ onEvent: (e) => events.push(e) });
    const direct = clientOf(key);
    const a = await direct.run('FACESWAP_V4', { sourceImage: SOURCE_URL, targetImage: TARGET_URL, seed: 1 });
    expect(a.ok).toBe(true);
    await waitUntil(() => events.some((e) => e.status === 'COMPLETED'), () => JSON.stringify(events.map((e) => e.status)));
    const before = events.length;
    await proxy.stop();
    const b = await direct.run('FACESWAP_V4', { sourceImage: SOURCE_URL, targetImage: TARGET_URL, seed: 2 });
    expect(b.ok).toBe(true);
    if (!b.ok) return;
    await proxy.start();
    await waitUntil(
      () => events.filter((e) => e.job.id === b.value.id && e.status === 'COMPLETED').length === 1,
      () => JSON.stringify(events.map((e) => [e.job.id, e.status])),
    );
    stop();
    await client.close();
    await direct.close();
    const missed = events.slice(before);
    expect(missed.map((e) => e.status)).toEqual(b.value.events.map((e) => e.status));
    expect(new Set(events.map((e) => e.cursor)).size).toBe(events.length);
  });
});
