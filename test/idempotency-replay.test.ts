// Safe retries of create mutations, and subscriptions that resume where they left off.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { collect, startTestApp, waitForFinal, type TestApp } from './support/app.js';
import { createMutation, MODEL_CASES } from './support/fixtures.js';
import { waitUntil } from './support/wait.js';

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp();
});
afterAll(async () => {
  await t?.close();
});

const v4 = createMutation('createFaceswapV4Job', 'CreateFaceswapV4JobInput');
const v4Input = MODEL_CASES[0].input;
const CONFLICT = `mutation($input: CreateFaceswapV4JobInput!) { createFaceswapV4Job(input: $input) {
  __typename ... on IdempotencyConflictError { idempotencyKey jobId message } ... on InvalidInputError { field rule } ... on FaceswapV4Job { id } } }`;

async function jobCount(): Promise<number> {
  const { rows: [r] } = await t.app.db.pool.query(`SELECT count(*)::int AS n FROM jobs`);
  return r.n;
}

describe('idempotency', () => {
  it('20 concurrent identical requests create one job and all answer it', async () => {
    const before = await jobCount();
    const input = { ...v4Input, idempotencyKey: 'order-42' };
    const answers = await Promise.all(Array.from({ length: 20 }, () => t.gql(v4, { input })));
    const ids = new Set(answers.map((a) => a.data.result.id));
    expect(ids.size).toBe(1);
    expect(await jobCount()).toBe(before + 1);
    // The server-drawn seed is the first request's, not a new draw per retry.
    expect(new Set(answers.map((a) => a.data.result.seed)).size).toBe(1);
    const { rows } = await t.app.db.pool.query(`SELECT count(*)::int AS n FROM job_events WHERE status = 'QUEUED' AND job_id IN (SELECT id FROM jobs WHERE idempotency_key = 'order-42')`);
    expect(rows[0].n).toBe(1);
  });

  it('a later retry returns the job in its current state', async () => {
    const input = { ...v4Input, idempotencyKey: 'retry-later' };
    const first = (await t.gql(v4, { input })).data.result;
    await waitForFinal(t, first.id);
    const again = (await t.gql(v4, { input })).data.result;
    expect(again.id).toBe(first.id);
    expect(again.status).toBe('COMPLETED');
  });

  it('the same key with a different request is a typed error and creates nothing', async () => {
    const first = (await t.gql(v4, { input: { ...v4Input, idempotencyKey: 'k-1' } })).data.result;
    const before = await jobCount();
    const res = await t.gql(CONFLICT, { input: { ...v4Input, swapType: 'FACE', idempotencyKey: 'k-1' } });
    expect(res.data.createFaceswapV4Job).toMatchObject({ __typename: 'IdempotencyConflictError', idempotencyKey: 'k-1', jobId: first.id });
    expect(await jobCount()).toBe(before);
    // A different model under the same key is a different request too.
    const other = await t.gql(`mutation($input: CreateFaceswapV2JobInput!) { createFaceswapV2Job(input: $input) { __typename } }`,
      { input: { ...MODEL_CASES[2].input, idempotencyKey: 'k-1' } });
    expect(other.data.createFaceswapV2Job.__typename).toBe('IdempotencyConflictError');
    expect(await jobCount()).toBe(before);
  });

  it('keys are scoped to the API key', async () => {
    const other = await t.newKey();
    const input = { ...v4Input, idempotencyKey: 'shared-name' };
    const a = (await t.gql(v4, { input })).data.result;
    const b = (await t.gql(v4, { input }, other)).data.result;
    expect(a.id).not.toBe(b.id);
  });

  it.each([['', 'empty'], ['x'.repeat(256), 'too long']])('refuses an idempotencyKey that is %s', async (key, _why) => {
    const before = await jobCount();
    const res = await t.gql(CONFLICT, { input: { ...v4Input, idempotencyKey: key } });
    expect(res.data.createFaceswapV4Job).toEqual({ __typename: 'InvalidInputError', field: 'input.idempotencyKey', rule: 'length' });
    expect(await jobCount()).toBe(before);
  });
});

describe('subscription replay', () => {
  const SUB = `subscription($since: String, $filter: JobEventFilter) { jobsUpdated(since: $since, filter: $filter) { cursor status job { id } } }`;

  it('a client that reconnects with its last cursor gets every event it missed, once, in order, then live ones', async () => {
    // Jobs of earlier tests must be done, or their late events would mix into this unfiltered stream.
    await waitUntil(
      async () => (await t.app.db.pool.query(`SELECT 1 FROM jobs WHERE status IN ('QUEUED', 'SUBMITTED', 'PROCESSING')`)).rowCount === 0,
      () => 'jobs of earlier tests still running',
      { everyMs: 50 },
    );
    const base = t.app.events.subscriberCount();
    const subscribed = () => waitUntil(() => t.app.events.subscriberCount() === base + 1, () => `subscribers: ${t.app.events.subscriberCount()}`);
    const first = collect(t.wsClient(), SUB, {}, (ev) => ev.some((e: any) => e.jobsUpdated.status === 'COMPLETED'));
    await subscribed();
    const a = (await t.gql(v4, { input: v4Input })).data.result;
    const seen = (await first.finished).map((e: any) => e.jobsUpdated);
    const lastCursor = seen.at(-1).cursor;

    // While disconnected: two more jobs run to completion.
    const b = (await t.gql(v4, { input: v4Input })).data.result;
    const c = (await t.gql(createMutation('createFaceswapV2Job', 'CreateFaceswapV2JobInput'), { input: MODEL_CASES[2].input })).data.result;
    await waitForFinal(t, b.id);
    await waitForFinal(t, c.id);
    const { rows } = await t.app.db.pool.query(
      `SELECT id::text AS cursor, status::text FROM job_events WHERE api_key_id = (SELECT api_key_id FROM jobs WHERE id = $1) AND id > $2 ORDER BY id`,
      [Buffer.from(b.id, 'base64').toString().split(':')[1], lastCursor],
    );
    expect(rows.length).toBeGreaterThanOrEqual(6);

    // Reconnect: the missed events, then a live one.
    await waitUntil(() => t.app.events.subscriberCount() === base, () => 'the first subscription still counted');
    const resumed = collect(t.wsClient(), SUB, { since: lastCursor }, (ev) => ev.length >= rows.length + 1);
    await subscribed();
    const d = (await t.gql(v4, { input: v4Input })).data.result;
    const got = (await resumed.finished).map((e: any) => e.jobsUpdated);
    expect(got.slice(0, rows.length).map((e) => [e.cursor, e.status])).toEqual(rows.map((r) => [r.cursor, r.status]));
    expect(got[rows.length]).toMatchObject({ status: 'QUEUED', job: { id: d.id } });
    expect(new Set(got.map((e) => e.cursor)).size).toBe(got.length);
    expect(seen.every((e) => e.job.id === a.id)).toBe(true);
  });

  it('replay honours the filter', async () => {
    const { rows: [r] } = await t.app.db.pool.query(`SELECT min(id)::text AS c FROM job_events`);
    const since = String(BigInt(r.c) - 1n);
    const { rows } = await t.app.db.pool.query(
      `SELECT count(*)::int AS n FROM job_events e JOIN jobs j ON j.id = e.job_id
       WHERE e.status = 'COMPLETED' AND j.model = 'FACESWAP_V2' AND j.api_key_id = e.api_key_id
         AND e.api_key_id = (SELECT id FROM api_keys WHERE name = 'test')`,
    );
    expect(rows[0].n).toBeGreaterThan(0);
    const sub = collect(t.wsClient(), SUB, { since, filter: { status: ['COMPLETED'], model: ['FACESWAP_V2'] } }, (ev) => ev.length >= rows[0].n);
    const got = (await sub.finished).map((e: any) => e.jobsUpdated.status);
    expect(got).toEqual(Array(rows[0].n).fill('COMPLETED'));
  });

  it('jobUpdated(since) sends only the job\'s events after the cursor', async () => {
    const job = (await t.gql(v4, { input: v4Input })).data.result;
    await waitForFinal(t, job.id);
    const all = (await t.gql(`query($id: ID!) { job(id: $id) { events { cursor status } } }`, { id: job.id })).data.job.events;
    const sub = collect(t.wsClient(), `subscription($id: ID!, $since: String) { jobUpdated(id: $id, since: $since) { status } }`,
      { id: job.id, since: all[0].cursor }, (ev) => ev.length >= all.length - 1);
    expect((await sub.finished).map((e: any) => e.jobUpdated.status)).toEqual(all.slice(1).map((e: any) => e.status));
  });

  it.each(['abc', '-1', '1.5', ''])('refuses the cursor %j naming the field', async (since) => {
    const sub = collect(t.wsClient(), SUB, { since }, () => false, 5000);
    const err: any = await sub.finished.catch((e) => e);
    expect(err.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'since', rule: 'cursor' });
  });
});
