// Authentication and isolation between API keys, over real HTTP and WebSocket:
// no key or a bad one is refused (401 / close 4403), keys are stored only as
// their sha256, and a job is visible, cancelable, subscribable and
// downloadable by the key that created it and by no other.
import { randomUUID } from 'node:crypto';
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { collect, startTestApp, waitForFinal, type GqlResponse, type TestApp } from './support/app.js';
import { createMutation, inputTypeOf, MODEL_CASES, sha256 } from './support/fixtures.js';
import { PATIENCE_MS, waitUntil } from './support/wait.js';

let t: TestApp;
beforeAll(async () => {
  // faceswap-v2 runs through the queue with 400 ms steps, so a v2 job stays live long enough to cancel.
  t = await startTestApp({ emulator: { latencyMs: { sync: 5, queueStep: 400, workflowStep: 30 } } });
});
afterAll(async () => {
  await t?.close();
});

const V4 = MODEL_CASES[0];
const V2 = MODEL_CASES[2];
const JOB = `query($id: ID!) { job(id: $id) { id status output { url sha256 } } }`;
const NODE = `query($id: ID!) { node(id: $id) { id ... on SwapJob { status } } }`;
const LIST = `query { jobs(first: 100) { edges { node { id } } } }`;
const CANCEL = `mutation($id: ID!) { cancelJob(id: $id) {
  __typename ... on NotFoundError { id } ... on JobNotCancelableError { status } ... on JobCanceled { job { id status } } } }`;
const JOB_UPDATED = `subscription($id: ID!) { jobUpdated(id: $id) { status job { id } } }`;
const JOBS_UPDATED = `subscription { jobsUpdated { status job { id } } }`;

async function createV4(key: string): Promise<string> {
  const res = await t.gql(createMutation(V4.mutation, inputTypeOf(V4.mutation)), { input: V4.input }, key);
  expect(res.data?.result?.__typename, JSON.stringify(res)).toBe(V4.type);
  return res.data.result.id;
}

function post(headers: Record<string, string>, body = JSON.stringify({ query: '{ __typename }' })): Promise<Response> {
  return fetch(`${t.url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });
}

async function expect401(res: Response): Promise<void> {
  expect(res.status).toBe(401);
  const body = (await res.json()) as GqlResponse;
  expect(body.data ?? null).toBeNull();
  expect(body.errors?.[0]?.extensions).toMatchObject({ code: 'UNAUTHENTICATED', field: 'Authorization' });
}

/** Opens a raw graphql-transport-ws socket, sends connection_init, and reports how it ended. */
function wsHandshake(payload?: Record<string, unknown>): Promise<{ acked: boolean; code: number; reason: string }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(t.wsUrl, 'graphql-transport-ws');
    let acked = false;
    const timer = setTimeout(() => {
      ws.terminate();
      reject(new Error('the socket was neither acknowledged nor closed'));
    }, PATIENCE_MS);
    ws.on('open', () => ws.send(JSON.stringify(payload === undefined ? { type: 'connection_init' } : { type: 'connection_init', payload })));
    ws.on('message', (data) => {
      if ((JSON.parse(String(data)) as { type: string }).type === 'connection_ack') {
        acked = true;
        ws.close(1000);
      }
    });
    ws.on('close', (code, reason) => {
      clearTimeout(timer);
      resolve({ acked, code, reason: reason.toString() });
    });
    ws.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}

/** A subscription that must fail: resolves with its GraphQL errors (or the close event). */
async function subscriptionError(client: ReturnType<TestApp['wsClient']>, query: string, variables: Record<string, unknown>) {
  const sub = collect(client, query, variables, () => false);
  const err = await sub.finished.then(
    (events) => {
      throw new Error(`the subscription ended without an error after ${JSON.stringify(events)}`);
    },
    (e: { errors?: GqlResponse['errors']; detail?: { code?: number } }) => e,
  );
  return { err, events: sub.events };
}

describe('HTTP authentication', () => {
  it('no Authorization header → 401 UNAUTHENTICATED', async () => {
    const res = await t.gql(`{ jobs { edges { cursor } } }`, {}, null);
    expect(res.status).toBe(401);
    expect(res.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    expect(res.data ?? null).toBeNull();
  });

  it.each([
    { label: 'an unknown key with the right prefix', header: () => `Bearer sy_${randomUUID()}` },
    { label: 'an unknown key without the prefix', header: () => `Bearer ${randomUUID()}` },
    { label: 'the right key with a character changed', header: () => `Bearer ${t.key.slice(0, -1)}${t.key.endsWith('A') ? 'B' : 'A'}` },
    { label: 'the stored hash instead of the key', header: () => `Bearer ${sha256(Buffer.from(t.key))}` },
    { label: 'the key without a scheme', header: () => t.key },
    { label: 'Basic x', header: () => 'Basic x' },
    { label: 'Basic with the key', header: () => `Basic ${t.key}` },
    { label: 'Bearer alone', header: () => 'Bearer' },
    { label: 'Bearer and spaces', header: () => 'Bearer   ' },
    { label: 'two tokens', header: () => `Bearer ${t.key} extra` },
  ])('$label → 401 UNAUTHENTICATED', async ({ header }) => {
    await expect401(await post({ authorization: header() }));
  });

  it('a mutation without a key → 401 and nothing is created', async () => {
    const count = async () => (await t.app.db.pool.query<{ n: number }>('select count(*)::int n from jobs')).rows[0]!.n;
    const before = await count();
    const res = await t.gql(createMutation(V4.mutation, inputTypeOf(V4.mutation)), { input: V4.input }, null);
    expect(res.status).toBe(401);
    expect(res.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    const wrong = await t.gql(createMutation(V4.mutation, inputTypeOf(V4.mutation)), { input: V4.input }, `sy_${randomUUID()}`);
    expect(wrong.status).toBe(401);
    expect(await count()).toBe(before);
  });

  it('a revoked key → 401, over HTTP and WebSocket', async () => {
    const revoked = await t.newKey('revoked');
    expect((await t.gql(`{ __typename }`, {}, revoked)).status).toBe(200);
    await t.app.db.pool.query(`update api_keys set revoked_at = now() where hash = $1`, [sha256(Buffer.from(revoked))]);
    await expect401(await post({ authorization: `Bearer ${revoked}` }));
    expect(await wsHandshake({ authorization: `Bearer ${revoked}` })).toMatchObject({ acked: false, code: 4403 });
  });

  it('the scheme is case-insensitive and the right key is accepted (control)', async () => {
    for (const header of [`Bearer ${t.key}`, `bearer ${t.key}`, `BEARER ${t.key}`]) {
      const res = await post({ authorization: header });
      expect(res.status, header).toBe(200);
    }
  });
});

describe('keys at rest', () => {
  it('the api_keys table holds only the sha256 of each secret, never the secret', async () => {
    const other = await t.newKey('at-rest');
    const { rows } = await t.app.db.pool.query<{ hash: string; row: string }>(`select hash, to_jsonb(k)::text as row from api_keys k`);
    expect(rows.length).toBeGreaterThanOrEqual(2);
    for (const secret of [t.key, other]) {
      expect(rows.filter((r) => r.row.includes(secret)), 'a row contains the secret').toEqual([]);
      const hash = sha256(Buffer.from(secret));
      expect(rows.filter((r) => r.hash === hash)).toHaveLength(1);
    }
    for (const r of rows) expect(r.hash).toMatch(/^[0-9a-f]{64}$/);
    // Nor anywhere else in the database.
    const { rows: leaks } = await t.app.db.pool.query<{ n: number }>(
      `select (select count(*) from jobs j where to_jsonb(j)::text like '%' || $1 || '%')
            + (select count(*) from job_events e where to_jsonb(e)::text like '%' || $1 || '%') as n`,
      [t.key],
    );
    expect(Number(leaks[0]!.n)).toBe(0);
  });
});

describe('WebSocket authentication', () => {
  it('connection_init without any payload is closed with 4403', async () => {
    expect(await wsHandshake()).toMatchObject({ acked: false, code: 4403 });
  });

  it.each([
    { label: 'an empty payload', payload: (): Record<string, unknown> => ({}) },
    { label: 'a wrong key', payload: () => ({ authorization: `Bearer sy_${randomUUID()}` }) },
    { label: 'the key without the Bearer scheme', payload: () => ({ authorization: t.key }) },
    { label: 'the key under another name', payload: () => ({ token: t.key }) },
    { label: 'Basic', payload: () => ({ authorization: 'Basic x' }) },
    { label: 'Bearer alone', payload: () => ({ authorization: 'Bearer' }) },
  ])('connection_init with $label is closed with 4403', async ({ payload }) => {
    expect(await wsHandshake(payload())).toMatchObject({ acked: false, code: 4403 });
  });

  it('the right key is acknowledged (control)', async () => {
    expect(await wsHandshake({ authorization: `Bearer ${t.key}` })).toMatchObject({ acked: true });
    expect(await wsHandshake({ Authorization: `Bearer ${t.key}` })).toMatchObject({ acked: true });
  });

  it('a graphql-ws client with a wrong key sees close code 4403 and its subscription fails', async () => {
    let closedWith: number | undefined;
    let client: Client | undefined;
    const closed = new Promise<void>((resolve) => {
      client = createClient({
        url: t.wsUrl,
        webSocketImpl: WebSocket,
        connectionParams: { authorization: `Bearer sy_${randomUUID()}` },
        retryAttempts: 0,
        on: {
          closed: (e) => {
            closedWith = (e as { code?: number }).code;
            resolve();
          },
        },
      });
      client.subscribe({ query: JOBS_UPDATED }, { next: () => {}, error: () => {}, complete: () => {} });
    });
    await closed;
    await client?.dispose();
    expect(closedWith).toBe(4403);

    const { err, events } = await subscriptionError(t.wsClient(`sy_${randomUUID()}`), JOBS_UPDATED, {});
    expect(err.detail?.code).toBe(4403);
    expect(events).toEqual([]);
  });

  it('a graphql-ws client without connectionParams sees close code 4403', async () => {
    let client: Client | undefined;
    const code = await new Promise<number | undefined>((resolve) => {
      client = createClient({
        url: t.wsUrl,
        webSocketImpl: WebSocket,
        retryAttempts: 0,
        lazy: false,
        onNonLazyError: () => {},
        on: { closed: (e) => resolve((e as { code?: number }).code) },
      });
    });
    await client?.dispose();
    expect(code).toBe(4403);
  });
});

describe('isolation between keys', () => {
  let keyB: string;
  let jobA: string;
  let outputUrl: string;
  beforeAll(async () => {
    keyB = await t.newKey('b');
    jobA = await createV4(t.key);
    expect((await waitForFinal(t, jobA)).status).toBe('COMPLETED');
    outputUrl = (await t.gql(JOB, { id: jobA })).data.job.output.url;
    expect(outputUrl).toMatch(/^http/);
  });

  it('key A sees its job; key B gets NOT_FOUND naming the field id', async () => {
    const a = await t.gql(JOB, { id: jobA });
    expect(a.errors).toBeUndefined();
    expect(a.data.job).toMatchObject({ id: jobA, status: 'COMPLETED' });

    const b = await t.gql(JOB, { id: jobA }, keyB);
    expect(b.status).toBe(200);
    expect(b.data.job).toBeNull();
    expect(b.errors?.[0]?.extensions).toMatchObject({ code: 'NOT_FOUND', field: 'id' });
    // Nothing of the job leaks through the error.
    expect(JSON.stringify(b)).not.toContain('COMPLETED');
  });

  it('node(id) answers the job to key A and null to key B, as for an unknown id', async () => {
    const a = await t.gql(NODE, { id: jobA });
    expect(a.errors).toBeUndefined();
    expect(a.data.node).toMatchObject({ id: jobA, status: 'COMPLETED' });

    const b = await t.gql(NODE, { id: jobA }, keyB);
    expect(b.errors, JSON.stringify(b.errors)).toBeUndefined();
    expect(b.data.node).toBeNull();
  });

  it("key B's job list excludes key A's jobs, however filtered; key A's includes them", async () => {
    const jobB = await createV4(keyB);
    const ids = async (query: string, key: string, variables?: Record<string, unknown>) =>
      ((await t.gql(query, variables, key)).data.jobs.edges as { node: { id: string } }[]).map((e) => e.node.id);
    expect(await ids(LIST, t.key)).toContain(jobA);
    expect(await ids(LIST, t.key)).not.toContain(jobB);
    expect(await ids(LIST, keyB)).toEqual([jobB]);
    const seed = (await t.gql(`query($id: ID!) { job(id: $id) { seed } }`, { id: jobA })).data.job.seed;
    const filtered = `query($f: JobFilter) { jobs(first: 100, filter: $f) { edges { node { id } } } }`;
    expect(await ids(filtered, keyB, { f: { seed } })).toEqual([]);
    expect(await ids(filtered, keyB, { f: { model: ['FACESWAP_V4'], status: ['COMPLETED', 'QUEUED', 'SUBMITTED'] } })).not.toContain(jobA);
    expect(await ids(filtered, t.key, { f: { seed } })).toContain(jobA);
    const last = `query { jobs(last: 100) { edges { node { id } } } }`;
    expect(await ids(last, keyB)).toEqual([jobB]);
    await waitForFinal(t, jobB, { key: keyB });
  });

  it("key B cannot cancel key A's job, live or finished; key A can", async () => {
    // Finished: B must get NotFoundError, not JobNotCancelableError, which would reveal the job exists.
    const finished = await t.gql(CANCEL, { id: jobA }, keyB);
    expect(finished.errors).toBeUndefined();
    expect(finished.data.cancelJob).toEqual({ __typename: 'NotFoundError', id: jobA });
    expect((await t.gql(CANCEL, { id: jobA })).data.cancelJob).toEqual({ __typename: 'JobNotCancelableError', status: 'COMPLETED' });

    // Live: a slow v2 job of key A.
    const created = await t.gql(createMutation(V2.mutation, inputTypeOf(V2.mutation)), { input: V2.input });
    const live = created.data.result.id as string;
    const byB = await t.gql(CANCEL, { id: live }, keyB);
    expect(byB.data.cancelJob).toEqual({ __typename: 'NotFoundError', id: live });
    const stillLive = (await t.gql(JOB, { id: live })).data.job.status;
    expect(['QUEUED', 'SUBMITTED', 'PROCESSING']).toContain(stillLive);
    const byA = await t.gql(CANCEL, { id: live });
    expect(byA.data.cancelJob).toEqual({ __typename: 'JobCanceled', job: { id: live, status: 'CANCELED' } });
    // B's attempt left no trace in the job's history.
    const events = (await t.gql(`query($id: ID!) { job(id: $id) { events { status } } }`, { id: live })).data.job.events;
    expect(events.filter((e: { status: string }) => e.status === 'CANCELED')).toHaveLength(1);
  });

  it("key B's jobUpdated on key A's job errors with NOT_FOUND and delivers nothing; key A's replays its history", async () => {
    const { err, events } = await subscriptionError(t.wsClient(keyB), JOB_UPDATED, { id: jobA });
    expect(err.errors?.[0]?.extensions).toMatchObject({ code: 'NOT_FOUND', field: 'id' });
    expect(events).toEqual([]);

    const mine = collect(t.wsClient(), JOB_UPDATED, { id: jobA }, (ev: any[]) => ev.some((e) => e.jobUpdated.status === 'COMPLETED'));
    const seen = await mine.finished;
    expect(seen.map((e: any) => e.jobUpdated.status)).toEqual(['QUEUED', 'SUBMITTED', 'COMPLETED']);
    expect(seen.every((e: any) => e.jobUpdated.job.id === jobA)).toBe(true);
  });

  it("key B's jobsUpdated receives nothing of key A's jobs while key A's own jobsUpdated does", async () => {
    type Ev = { jobsUpdated: { status: string; job: { id: string } } };
    const subA = collect<Ev>(t.wsClient(), JOBS_UPDATED, {}, () => false, 5 * PATIENCE_MS);
    const subB = collect<Ev>(t.wsClient(keyB), JOBS_UPDATED, {}, () => false, 5 * PATIENCE_MS);
    const until = (events: Ev[], pred: (e: Ev) => boolean, what: string) =>
      waitUntil(() => events.some(pred), () => `${what}: ${JSON.stringify(events)}`);
    try {
      // jobsUpdated has no replay: wait until each subscription is live by seeing its own probe job.
      const probeA = await createV4(t.key);
      await until(subA.events, (e) => e.jobsUpdated.job.id === probeA, "A's probe");
      const probeB = await createV4(keyB);
      await until(subB.events, (e) => e.jobsUpdated.job.id === probeB, "B's probe");

      const a1 = await createV4(t.key);
      await until(subA.events, (e) => e.jobsUpdated.job.id === a1 && e.jobsUpdated.status === 'COMPLETED', "A's job to complete");
      await until(subA.events, (e) => e.jobsUpdated.job.id === probeA && e.jobsUpdated.status === 'COMPLETED', "A's probe to complete");
      // Events reach subscribers in commit order: once B sees a job created after
      // A's finished, any leak of A's events to B would already have arrived.
      const sentinel = await createV4(keyB);
      await until(subB.events, (e) => e.jobsUpdated.job.id === sentinel, "B's sentinel");

      const idsB = new Set(subB.events.map((e) => e.jobsUpdated.job.id));
      expect(idsB.has(a1)).toBe(false);
      expect(idsB.has(probeA)).toBe(false);
      expect([...idsB].every((id) => id === probeB || id === sentinel), JSON.stringify(subB.events)).toBe(true);

      const idsA = new Set(subA.events.map((e) => e.jobsUpdated.job.id));
      expect(idsA.has(probeB)).toBe(false);
      expect(idsA.has(sentinel)).toBe(false);
      expect(subA.events.filter((e) => e.jobsUpdated.job.id === a1).map((e) => e.jobsUpdated.status)).toEqual(['QUEUED', 'SUBMITTED', 'COMPLETED']);
      await waitForFinal(t, sentinel, { key: keyB });
      await waitForFinal(t, probeB, { key: keyB });
    } finally {
      subA.cancel();
      subB.cancel();
    }
  });

  it("the output downloads with key A only: key B → 404, no key → 401, a wrong key → 401", async () => {
    const asA = await fetch(outputUrl, { headers: { authorization: `Bearer ${t.key}` } });
    expect(asA.status).toBe(200);
    const bytes = Buffer.from(await asA.arrayBuffer());
    expect(sha256(bytes)).toBe((await t.gql(JOB, { id: jobA })).data.job.output.sha256);

    const asB = await fetch(outputUrl, { headers: { authorization: `Bearer ${keyB}` } });
    expect(asB.status).toBe(404);
    const bodyB = await asB.text();
    expect(bodyB).not.toContain(sha256(bytes));

    expect((await fetch(outputUrl)).status).toBe(401);
    expect((await fetch(outputUrl, { headers: { authorization: `Bearer sy_${randomUUID()}` } })).status).toBe(401);
    expect((await fetch(outputUrl, { headers: { authorization: 'Basic x' } })).status).toBe(401);
    // B's 404 is the same as for an id that never existed.
    const unknown = `${t.url}/outputs/${Buffer.from(`FaceswapV4Job:${randomUUID()}`).toString('base64')}`;
    const none = await fetch(unknown, { headers: { authorization: `Bearer ${keyB}` } });
    expect(none.status).toBe(404);
    expect(await none.text()).toBe(bodyB);
    // A conditional request by B does not reveal the job either.
    const etag = asA.headers.get('etag');
    expect(etag).toBeTruthy();
    expect((await fetch(outputUrl, { headers: { authorization: `Bearer ${keyB}`, 'if-none-match': etag! } })).status).toBe(404);
  });
});
