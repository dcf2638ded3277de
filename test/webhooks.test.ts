// Webhooks end to end: endpoints registered over GraphQL, job events POSTed to
// real HTTP receivers on loopback, signatures checked with the Standard
// Webhooks reference library, retries on a (tiny) schedule, the delivery log
// read back over GraphQL, and a dispatcher in a separate worker process.
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { authenticateApiKey } from '../src/services/api-keys.js';
import { loadConfig } from '../src/config.js';
import { nextAttemptDelay, signWebhook, WebhookDispatcher } from '../src/services/webhook-dispatcher.js';
import { targetRefusal, type LookupFunction } from '../src/net/guarded-fetch.js';
import { createEndpoint, webhookPolicy } from '../src/services/webhooks.js';
import { startTestApp, waitForFinal, type GqlResponse, type TestApp } from './support/app.js';
import { createMutation, MODEL_CASES } from './support/fixtures.js';
import { spawnWorker, stopProcess } from './support/processes.js';
import { pause, waitUntil } from './support/wait.js';

const RETRY_MS = 100;
const WEBHOOK_ENV = {
  WEBHOOK_ALLOW_PRIVATE: 'true',
  WEBHOOK_RETRY_SCHEDULE_MS: `${RETRY_MS},${RETRY_MS},${RETRY_MS}`,
  // Far beyond a loaded machine's answer time; the hanging receiver's test waits it out once.
  WEBHOOK_TIMEOUT_MS: '3000',
  WEBHOOK_IDLE_POLL_MS: '50',
};

// ---------------------------------------------------------------- receivers

interface Receipt {
  headers: IncomingHttpHeaders;
  body: string;
  at: number;
}

type Answer = number | 'hang' | { status: number; body: string; headers?: Record<string, string> };

interface Receiver {
  url: string;
  port: number;
  receipts: Receipt[];
  waitFor(n: number): Promise<Receipt[]>;
  close(): Promise<void>;
}

const receivers: Receiver[] = [];

/** A real HTTP server on 127.0.0.1 answering the n-th request (1-based) with answer(n). */
async function receiver(answer: (n: number) => Answer = () => 200): Promise<Receiver> {
  const receipts: Receipt[] = [];
  const server: Server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk) => (body += chunk));
    req.on('end', () => {
      receipts.push({ headers: req.headers, body, at: Date.now() });
      const a = answer(receipts.length);
      if (a === 'hang') return;
      const { status, text, headers } = typeof a === 'number' ? { status: a, text: `answer ${a}`, headers: {} } : { status: a.status, text: a.body, headers: a.headers };
      res.writeHead(status, { 'content-type': 'text/plain', ...headers });
      res.end(text);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const r: Receiver = {
    url: `http://127.0.0.1:${port}/hook`,
    port,
    receipts,
    async waitFor(n) {
      await waitUntil(() => receipts.length >= n, () => `receiver got ${receipts.length} of ${n} requests`, { everyMs: 10 });
      return receipts;
    },
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
  receivers.push(r);
  return r;
}


function headersOf(r: Receipt): Record<string, string> {
  return Object.fromEntries(Object.entries(r.headers).map(([k, v]) => [k, String(v)]));
}

function webhookGlobalId(uuid: string): string {
  return Buffer.from(`WebhookEndpoint:${uuid}`).toString('base64');
}

// ---------------------------------------------------------------- GraphQL

const ENDPOINT = `id url description statuses enabled createdAt`;
const INVALID = `... on InvalidInputError { message field rule violations { field rule message } }`;
const ERRORS = `${INVALID} ... on WebhookNotFoundError { id message }`;
const CREATE = `mutation($input: CreateWebhookEndpointInput!) {
  r: createWebhookEndpoint(input: $input) { __typename ... on WebhookEndpointCreated { secret endpoint { ${ENDPOINT} } } ${INVALID} } }`;
const UPDATE = `mutation($id: ID!, $input: UpdateWebhookEndpointInput!) {
  r: updateWebhookEndpoint(id: $id, input: $input) { __typename ... on WebhookEndpointUpdated { endpoint { ${ENDPOINT} } } ${ERRORS} } }`;
const DELETE = `mutation($id: ID!) { r: deleteWebhookEndpoint(id: $id) { __typename ... on WebhookEndpointDeleted { id } ${ERRORS} } }`;
const ROTATE = `mutation($id: ID!) {
  r: rotateWebhookEndpointSecret(id: $id) { __typename ... on WebhookEndpointSecretRotated { secret endpoint { id } } ${ERRORS} } }`;
const RETRY = `mutation($id: ID!) { r: retryWebhookDelivery(id: $id) { __typename ... on WebhookDeliveryRetried { delivery { id status } } ${ERRORS} } }`;
const DELIVERY = `id status attemptCount nextAttemptAt createdAt finishedAt
  event { cursor status createdAt job { id } }
  attempts { attemptedAt responseStatus responseBody error durationMs }`;
const DELIVERIES = `query($id: ID!, $first: Int, $after: String, $status: WebhookDeliveryStatus, $job: ID) {
  webhookEndpoint(id: $id) { id deliveries(first: $first, after: $after, status: $status, job: $job) {
    edges { cursor node { ${DELIVERY} } } pageInfo { hasNextPage hasPreviousPage endCursor } } } }`;

const createV4 = createMutation('createFaceswapV4Job', 'CreateFaceswapV4JobInput');

async function runJob(t: TestApp, key: string): Promise<{ id: string; events: { cursor: string; status: string; createdAt: string }[] }> {
  const res = await t.gql(createV4, { input: MODEL_CASES[0].input }, key);
  const job = res.data.result;
  expect(job.__typename, JSON.stringify(res)).toBe('FaceswapV4Job');
  await waitForFinal(t, job.id, { key });
  const read = await t.gql(`query($id: ID!) { job(id: $id) { id events { cursor status createdAt } } }`, { id: job.id }, key);
  return read.data.job;
}

async function createHook(t: TestApp, key: string, input: Record<string, unknown>): Promise<{ id: string; secret: string; endpoint: any }> {
  const res = await t.gql(CREATE, { input }, key);
  expect(res.errors, JSON.stringify(res.errors)).toBeUndefined();
  expect(res.data.r.__typename, JSON.stringify(res.data.r)).toBe('WebhookEndpointCreated');
  return { id: res.data.r.endpoint.id, secret: res.data.r.secret, endpoint: res.data.r.endpoint };
}

async function deliveries(t: TestApp, key: string, endpointId: string, vars: Record<string, unknown> = {}): Promise<any[]> {
  const res = await t.gql(DELIVERIES, { id: endpointId, ...vars }, key);
  expect(res.errors, JSON.stringify(res.errors)).toBeUndefined();
  return res.data.webhookEndpoint.deliveries.edges.map((e: any) => e.node);
}

/** Polls the delivery log until `done` holds. */
async function waitForLog(t: TestApp, key: string, endpointId: string, done: (d: any[]) => boolean): Promise<any[]> {
  let list: any[] = [];
  return waitUntil(
    async () => done((list = await deliveries(t, key, endpointId))) && list,
    () => `delivery log not as expected: ${JSON.stringify(list, null, 1)}`,
    { everyMs: 25 },
  );
}

interface Snapshot {
  endpoints: unknown[];
  deliveries: number;
  attempts: number;
}

async function snapshot(t: TestApp): Promise<Snapshot> {
  const q = (sql: string) => t.app.db.pool.query(sql).then((r) => r.rows);
  return {
    endpoints: await q(`SELECT id, api_key_id, url, secret, description, statuses::text, enabled FROM webhook_endpoints ORDER BY id`),
    deliveries: (await q(`SELECT count(*)::int n FROM webhook_deliveries`))[0].n,
    attempts: (await q(`SELECT count(*)::int n FROM webhook_attempts`))[0].n,
  };
}

/** Runs `fn` and asserts no endpoint was created, changed or deleted. */
async function changesNothing<T>(t: TestApp, fn: () => Promise<T>): Promise<T> {
  const before = (await snapshot(t)).endpoints;
  const result = await fn();
  expect((await snapshot(t)).endpoints, 'the bad request changed an endpoint').toEqual(before);
  return result;
}

function expectInvalid(r: any, expected: { field: string; rule: string }[]): void {
  expect(r.__typename, JSON.stringify(r)).toBe('InvalidInputError');
  expect({ field: r.field, rule: r.rule }).toEqual(expected[0]);
  expect(r.violations.map((v: any) => ({ field: v.field, rule: v.rule }))).toEqual(expected);
  for (const v of r.violations) {
    expect(v.message).toContain(v.field.replace(/^input\./, ''));
    expect(r.message).toContain(v.field);
  }
}

function expectRequestError(res: GqlResponse, ext: Record<string, string>): void {
  expect(res.errors?.[0]?.extensions, JSON.stringify(res)).toMatchObject(ext);
}

// ---------------------------------------------------------------- the suite

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp({ env: WEBHOOK_ENV });
});
afterAll(async () => {
  for (const r of receivers) await r.close();
  await t?.close();
});

describe('webhook deliveries', () => {
  it('signs each delivery the Standard Webhooks way; a receiver failing twice then succeeding gets the event three times, and the log shows each attempt', async () => {
    const key = await t.newKey('retries');
    const recv = await receiver((n) => (n <= 2 ? 500 : 200));
    const hook = await createHook(t, key, { url: recv.url, description: 'ci', statuses: ['COMPLETED'] });
    expect(hook.endpoint).toMatchObject({ url: recv.url, description: 'ci', statuses: ['COMPLETED'], enabled: true });
    expect(hook.secret).toMatch(/^whsec_[A-Za-z0-9+/]+=*$/);
    expect(Buffer.from(hook.secret.slice(6), 'base64').length).toBeGreaterThanOrEqual(24);

    const job = await runJob(t, key);
    const completed = job.events.find((e) => e.status === 'COMPLETED')!;
    const receipts = await recv.waitFor(3);

    const wh = new Webhook(hook.secret);
    for (const r of receipts) {
      expect(r.headers['content-type']).toBe('application/json');
      expect(r.headers['webhook-signature']).toMatch(/^v1,[A-Za-z0-9+/]+=*$/);
      const payload = wh.verify(r.body, headersOf(r)) as any;
      expect(payload).toEqual({
        type: 'job.completed',
        timestamp: completed.createdAt,
        data: {
          id: job.id, model: 'FACESWAP_V4', status: 'COMPLETED', cursor: completed.cursor,
          detail: expect.objectContaining({ sha256: expect.stringMatching(/^[0-9a-f]{64}$/) }),
        },
      });
      // Anything else fails verification: another secret, a changed body, a changed id.
      expect(() => new Webhook(`whsec_${Buffer.alloc(24, 7).toString('base64')}`).verify(r.body, headersOf(r))).toThrow();
      expect(() => wh.verify(r.body.replace('COMPLETED', 'FAILED'), headersOf(r))).toThrow();
      expect(() => wh.verify(r.body, { ...headersOf(r), 'webhook-id': randomUUID() })).toThrow();
    }
    // The same event, byte for byte, under the same webhook-id, on every try; tries spaced by the schedule.
    expect(new Set(receipts.map((r) => r.body)).size).toBe(1);
    expect(new Set(receipts.map((r) => r.headers['webhook-id'])).size).toBe(1);
    expect(receipts[1]!.at - receipts[0]!.at).toBeGreaterThanOrEqual(RETRY_MS * 0.9 - 5);
    expect(receipts[2]!.at - receipts[1]!.at).toBeGreaterThanOrEqual(RETRY_MS * 0.9 - 5);

    const [delivery] = await waitForLog(t, key, hook.id, (d) => d[0]?.status === 'SUCCEEDED');
    expect(delivery.id).toBe(receipts[0]!.headers['webhook-id']);
    expect(delivery.attemptCount).toBe(3);
    expect(delivery.nextAttemptAt).toBeNull();
    expect(delivery.finishedAt).not.toBeNull();
    expect(delivery.event).toEqual({ cursor: completed.cursor, status: 'COMPLETED', createdAt: completed.createdAt, job: { id: job.id } });
    expect(delivery.attempts.map((a: any) => [a.responseStatus, a.responseBody, a.error])).toEqual([
      [500, 'answer 500', null], [500, 'answer 500', null], [200, 'answer 200', null],
    ]);
    for (const a of delivery.attempts) expect(a.durationMs).toBeGreaterThanOrEqual(0);
    await pause(3 * RETRY_MS); // then check that nothing more arrived
    expect(recv.receipts).toHaveLength(3);
  });

  it('signs exactly as the Standard Webhooks reference does', () => {
    // The specification's published example.
    expect(signWebhook('whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw', 'msg_p5jXN8AQM9LWM0D4loKWxJek', 1614265330, '{"test": 2432232314}'))
      .toBe('v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=');
    const secret = `whsec_${Buffer.alloc(32, 42).toString('base64')}`;
    const at = new Date(1_800_000_000_000);
    expect(signWebhook(secret, 'id-1', 1_800_000_000, '{"a":1}')).toBe(new Webhook(secret).sign('id-1', at, '{"a":1}'));
  });

  it('keeps the first kilobyte of what the receiver answered', async () => {
    const key = await t.newKey('long-answer');
    const recv = await receiver(() => ({ status: 200, body: `${'é'.repeat(10)}${'x'.repeat(5000)}` }));
    const hook = await createHook(t, key, { url: recv.url, statuses: ['COMPLETED'] });
    await runJob(t, key);
    const [d] = await waitForLog(t, key, hook.id, (x) => x[0]?.status === 'SUCCEEDED');
    expect(Buffer.byteLength(d.attempts[0].responseBody)).toBe(1024);
    expect(d.attempts[0].responseBody.startsWith('é'.repeat(10))).toBe(true);
  });

  it('the retry schedule: configurable, jittered ±10 %, and then no more tries', () => {
    expect(loadConfig({}).webhooks.retryScheduleMs).toEqual([5_000, 300_000, 1_800_000, 7_200_000, 18_000_000, 36_000_000, 36_000_000]);
    expect(loadConfig({ WEBHOOK_RETRY_SCHEDULE_MS: ' 0, 10,20 ' }).webhooks.retryScheduleMs).toEqual([0, 10, 20]);
    for (const bad of ['5,x', '5,,6', '-1', '1.5']) {
      expect(() => loadConfig({ WEBHOOK_RETRY_SCHEDULE_MS: bad })).toThrow(/WEBHOOK_RETRY_SCHEDULE_MS must be a comma-separated list/);
    }
    expect(() => loadConfig({ WEBHOOK_ALLOW_PRIVATE: 'maybe' })).toThrow(/WEBHOOK_ALLOW_PRIVATE/);
    expect(() => loadConfig({ WEBHOOK_TIMEOUT_MS: '0' })).toThrow(/WEBHOOK_TIMEOUT_MS/);
    const schedule = [1000, 60_000];
    expect(nextAttemptDelay(schedule, 1, () => 0)).toBe(900);
    expect(nextAttemptDelay(schedule, 1, () => 1)).toBe(1100);
    expect(nextAttemptDelay(schedule, 2, () => 0.5)).toBe(60_000);
    expect(nextAttemptDelay(schedule, 3)).toBeNull();
  });

  it('an endpoint gets only the statuses it asked for; a disabled endpoint gets nothing; update switches both', async () => {
    const key = await t.newKey('filters');
    const all = await receiver();
    const finals = await receiver();
    const off = await receiver();
    const hookAll = await createHook(t, key, { url: all.url });
    const hookFinal = await createHook(t, key, { url: finals.url, statuses: ['COMPLETED', 'FAILED', 'FAILED'] });
    const hookOff = await createHook(t, key, { url: off.url, enabled: false });
    expect(hookAll.endpoint.statuses).toEqual([]);
    expect(hookFinal.endpoint.statuses).toEqual(['COMPLETED', 'FAILED']);
    expect(hookOff.endpoint.enabled).toBe(false);

    const job = await runJob(t, key);
    await all.waitFor(3);
    await finals.waitFor(1);
    await pause(300); // then check that nothing more arrived
    const types = (r: Receiver) =>
      r.receipts.map((x) => JSON.parse(x.body)).sort((a, b) => Number(a.data.cursor) - Number(b.data.cursor)).map((p) => p.type);
    expect(types(all)).toEqual(['job.queued', 'job.submitted', 'job.completed']);
    expect(all.receipts.map((r) => JSON.parse(r.body).data.id)).toEqual([job.id, job.id, job.id]);
    expect(types(finals)).toEqual(['job.completed']);
    expect(off.receipts).toHaveLength(0);
    expect(await deliveries(t, key, hookOff.id)).toEqual([]);

    // Swap them: disable the first, enable the third and narrow it to QUEUED.
    const disabled = await t.gql(UPDATE, { id: hookAll.id, input: { enabled: false } }, key);
    expect(disabled.data.r).toMatchObject({ __typename: 'WebhookEndpointUpdated', endpoint: { id: hookAll.id, enabled: false, url: all.url } });
    const enabled = await t.gql(UPDATE, { id: hookOff.id, input: { enabled: true, statuses: ['QUEUED'], description: 'queued only' } }, key);
    expect(enabled.data.r.endpoint).toMatchObject({ enabled: true, statuses: ['QUEUED'], description: 'queued only' });
    const cleared = await t.gql(UPDATE, { id: hookOff.id, input: { description: null } }, key);
    expect(cleared.data.r.endpoint).toMatchObject({ enabled: true, statuses: ['QUEUED'], description: '' });

    await runJob(t, key);
    await off.waitFor(1);
    await finals.waitFor(2);
    await pause(300); // then check that nothing more arrived
    expect(types(off)).toEqual(['job.queued']);
    expect(all.receipts).toHaveLength(3);
    expect(types(finals)).toEqual(['job.completed', 'job.completed']);

    const listed = await t.gql(`{ webhookEndpoints { ${ENDPOINT} } }`, {}, key);
    expect(listed.data.webhookEndpoints.map((e: any) => [e.id, e.enabled])).toEqual([
      [hookAll.id, false], [hookFinal.id, true], [hookOff.id, true],
    ]);
  });

  it('pages the delivery log newest first and filters it by status and by job', async () => {
    const key = await t.newKey('paging');
    const recv = await receiver();
    const hook = await createHook(t, key, { url: recv.url });
    const first = await runJob(t, key);
    const second = await runJob(t, key);
    await waitForLog(t, key, hook.id, (d) => d.length === 6 && d.every((x) => x.status === 'SUCCEEDED'));

    const seen: string[] = [];
    let after: string | null = null;
    for (let page = 0; page < 3; page++) {
      const res: GqlResponse = await t.gql(DELIVERIES, { id: hook.id, first: 2, after }, key);
      const conn = res.data.webhookEndpoint.deliveries;
      expect(conn.edges).toHaveLength(2);
      expect(conn.pageInfo.hasNextPage).toBe(page < 2);
      expect(conn.pageInfo.hasPreviousPage).toBe(page > 0);
      seen.push(...conn.edges.map((e: any) => e.node.event.cursor));
      after = conn.pageInfo.endCursor;
    }
    expect(seen).toEqual([...seen].sort((a, b) => Number(b) - Number(a)));
    expect(new Set(seen).size).toBe(6);
    expect(await deliveries(t, key, hook.id, { status: 'SUCCEEDED' })).toHaveLength(6);
    expect(await deliveries(t, key, hook.id, { status: 'FAILED' })).toEqual([]);
    expect(await deliveries(t, key, hook.id, { status: 'PENDING' })).toEqual([]);

    for (const job of [first, second]) {
      const ofJob = await deliveries(t, key, hook.id, { job: job.id });
      expect(ofJob.map((d) => d.event.cursor)).toEqual(job.events.map((e) => e.cursor).reverse());
      expect(new Set(ofJob.map((d) => d.event.job.id))).toEqual(new Set([job.id]));
    }
    expect(await deliveries(t, key, hook.id, { job: first.id, status: 'PENDING' })).toEqual([]);
  });

  it('a receiver that never answers 2xx ends FAILED when the schedule runs out; retryWebhookDelivery sends it once more', async () => {
    const key = await t.newKey('failing');
    let healthy = false;
    const recv = await receiver(() => (healthy ? 204 : 503));
    const hook = await createHook(t, key, { url: recv.url, statuses: ['COMPLETED'] });
    await runJob(t, key);
    const [failed] = await waitForLog(t, key, hook.id, (d) => d[0]?.status === 'FAILED');
    // The first try and three retries.
    expect(failed.attemptCount).toBe(4);
    expect(failed.attempts.map((a: any) => a.responseStatus)).toEqual([503, 503, 503, 503]);
    expect(failed.nextAttemptAt).toBeNull();
    expect(failed.finishedAt).not.toBeNull();
    await pause(3 * RETRY_MS); // then check that nothing more arrived
    expect(recv.receipts).toHaveLength(4);

    healthy = true;
    const retried = await t.gql(RETRY, { id: failed.id }, key);
    expect(retried.data.r).toEqual({ __typename: 'WebhookDeliveryRetried', delivery: { id: failed.id, status: 'PENDING' } });
    const [done] = await waitForLog(t, key, hook.id, (d) => d[0]?.status === 'SUCCEEDED');
    expect(done.attempts.map((a: any) => a.responseStatus)).toEqual([503, 503, 503, 503, 204]);
    expect(new Set(recv.receipts.map((r) => r.body)).size).toBe(1);
    expect(new Set(recv.receipts.map((r) => r.headers['webhook-id'])).size).toBe(1);
  });

  it('a receiver that hangs is cut off at WEBHOOK_TIMEOUT_MS and the attempt records the timeout', async () => {
    const key = await t.newKey('hanging');
    const recv = await receiver((n) => (n === 1 ? 'hang' : 200));
    const hook = await createHook(t, key, { url: recv.url, statuses: ['COMPLETED'] });
    await runJob(t, key);
    const [delivery] = await waitForLog(t, key, hook.id, (d) => d[0]?.status === 'SUCCEEDED');
    const [timedOut, ok] = delivery.attempts;
    expect(timedOut.responseStatus).toBeNull();
    expect(timedOut.error).toMatch(/timeout: no answer within 3000 ms/);
    // Cut off, not answered: the receiver never answers its first request. A lower bound only on a real clock.
    expect(timedOut.durationMs).toBeGreaterThanOrEqual(2980);
    expect(ok).toMatchObject({ responseStatus: 200, error: null });
  });

  it('a refused connection is recorded as the attempt error', async () => {
    const key = await t.newKey('refused');
    const gone = await receiver();
    await gone.close();
    const hook = await createHook(t, key, { url: gone.url, statuses: ['COMPLETED'] });
    await runJob(t, key);
    const [delivery] = await waitForLog(t, key, hook.id, (d) => d[0]?.status === 'FAILED');
    expect(delivery.attempts).toHaveLength(4);
    for (const a of delivery.attempts) {
      expect(a.responseStatus).toBeNull();
      expect(a.error).toMatch(/ECONNREFUSED/);
    }
  });

  it('a redirect is a failed attempt, never followed', async () => {
    const key = await t.newKey('redirecting');
    const elsewhere = await receiver();
    const recv = await receiver(() => ({ status: 307, body: 'moved', headers: { location: elsewhere.url } }));
    const hook = await createHook(t, key, { url: recv.url, statuses: ['COMPLETED'] });
    await runJob(t, key);
    const [delivery] = await waitForLog(t, key, hook.id, (d) => d[0]?.status === 'FAILED');
    expect(delivery.attempts).toHaveLength(4);
    for (const a of delivery.attempts) expect(a).toMatchObject({ responseStatus: 307, responseBody: 'moved', error: null });
    expect(elsewhere.receipts).toHaveLength(0);
  });

  it('rotating the secret signs later deliveries with the new secret only', async () => {
    const key = await t.newKey('rotate');
    const recv = await receiver();
    const hook = await createHook(t, key, { url: recv.url, statuses: ['COMPLETED'] });
    const rotated = await t.gql(ROTATE, { id: hook.id }, key);
    expect(rotated.data.r).toMatchObject({ __typename: 'WebhookEndpointSecretRotated', endpoint: { id: hook.id } });
    const secret = rotated.data.r.secret as string;
    expect(secret).toMatch(/^whsec_/);
    expect(secret).not.toBe(hook.secret);
    await runJob(t, key);
    const [r] = await recv.waitFor(1);
    expect(new Webhook(secret).verify(r!.body, headersOf(r!))).toMatchObject({ type: 'job.completed' });
    expect(() => new Webhook(hook.secret).verify(r!.body, headersOf(r!))).toThrow();
  });

  it('deleting an endpoint removes it with its log, and nothing more is sent to it', async () => {
    const key = await t.newKey('delete');
    const recv = await receiver();
    const hook = await createHook(t, key, { url: recv.url, statuses: ['COMPLETED'] });
    await runJob(t, key);
    await waitForLog(t, key, hook.id, (d) => d[0]?.status === 'SUCCEEDED');
    const deleted = await t.gql(DELETE, { id: hook.id }, key);
    expect(deleted.data.r).toEqual({ __typename: 'WebhookEndpointDeleted', id: hook.id });
    expectRequestError(await t.gql(DELIVERIES, { id: hook.id }, key), { code: 'NOT_FOUND', field: 'id' });
    const uuid = Buffer.from(hook.id, 'base64').toString().split(':')[1];
    const left = await t.app.db.pool.query(`SELECT count(*)::int n FROM webhook_deliveries WHERE endpoint_id = $1`, [uuid]);
    expect(left.rows[0].n).toBe(0);
    await runJob(t, key);
    await pause(300); // then check that nothing more arrived
    expect(recv.receipts).toHaveLength(1);
    const again = await t.gql(DELETE, { id: hook.id }, key);
    expect(again.data.r).toMatchObject({ __typename: 'WebhookNotFoundError', id: hook.id });
  });
});

describe('webhooks are per API key', () => {
  it("another key's endpoints never get this key's events, and this key cannot see, change, rotate, delete or retry them", async () => {
    const keyA = await t.newKey('A');
    const keyB = await t.newKey('B');
    const recvA = await receiver();
    const recvB = await receiver();
    const hookA = await createHook(t, keyA, { url: recvA.url });
    const hookB = await createHook(t, keyB, { url: recvB.url, description: 'B' });

    await runJob(t, keyA);
    await recvA.waitFor(3);
    await pause(300); // then check that nothing more arrived
    expect(recvB.receipts).toHaveLength(0);

    const listA = await t.gql(`{ webhookEndpoints { id } }`, {}, keyA);
    expect(listA.data.webhookEndpoints).toEqual([{ id: hookA.id }]);
    expectRequestError(await t.gql(DELIVERIES, { id: hookB.id }, keyA), { code: 'NOT_FOUND', field: 'id', rule: 'exists' });
    const node = await t.gql(`query($id: ID!) { node(id: $id) { id } }`, { id: hookB.id }, keyA);
    expect(node.errors).toBeUndefined();
    expect(node.data.node).toBeNull();
    const own = await t.gql(`query($id: ID!) { node(id: $id) { id ... on WebhookEndpoint { description } } }`, { id: hookB.id }, keyB);
    expect(own.data.node).toEqual({ id: hookB.id, description: 'B' });

    await changesNothing(t, async () => {
      for (const [mutation, vars] of [
        [UPDATE, { id: hookB.id, input: { url: recvA.url, enabled: false } }],
        [ROTATE, { id: hookB.id }],
        [DELETE, { id: hookB.id }],
      ] as const) {
        const res = await t.gql(mutation, vars, keyA);
        expect(res.data.r).toMatchObject({ __typename: 'WebhookNotFoundError', id: hookB.id });
        expect(res.data.r.message).toMatch(/no webhook endpoint/i);
      }
    });

    // B's endpoint is untouched: its own events reach it, signed with its original secret.
    await runJob(t, keyB);
    const receipts = await recvB.waitFor(3);
    for (const r of receipts) new Webhook(hookB.secret).verify(r.body, headersOf(r));
    const [deliveryB] = await waitForLog(t, keyB, hookB.id, (d) => d.length === 3 && d.every((x) => x.status === 'SUCCEEDED'));
    const before = await snapshot(t);
    const retry = await t.gql(RETRY, { id: deliveryB.id }, keyA);
    expect(retry.data.r).toMatchObject({ __typename: 'WebhookNotFoundError', id: deliveryB.id });
    expect(retry.data.r.message).toMatch(/no webhook delivery/i);
    await pause(200); // then check that nothing more arrived
    expect(await snapshot(t)).toEqual(before);
    expect(recvB.receipts).toHaveLength(3);
  });
});

describe('bad input: a typed error naming the field and the rule, and nothing stored', () => {
  let key: string;
  let hook: { id: string; secret: string };
  beforeAll(async () => {
    key = await t.newKey('bad-input');
    hook = await createHook(t, key, { url: 'https://hooks.example.com/in', description: 'keep me' });
  });

  it.each([
    ['not a url', 'url'],
    ['/relative/path', 'url'],
    ['ftp://example.com/hook', 'url-scheme'],
    ['javascript:alert(1)', 'url-scheme'],
    ['file:///etc/passwd', 'url-scheme'],
    ['https://user:pw@example.com/hook', 'no-credentials'],
    ['https://token@example.com/hook', 'no-credentials'],
    [`https://example.com/${'a'.repeat(2100)}`, 'max-length'],
  ])('createWebhookEndpoint(url: %s) → input.url / %s', async (url, rule) => {
    const res = await changesNothing(t, () => t.gql(CREATE, { input: { url } }, key));
    expect(res.errors).toBeUndefined();
    expectInvalid(res.data.r, [{ field: 'input.url', rule }]);
  });

  it.each([
    ['', 'not-blank'],
    ['   ', 'not-blank'],
    ['x'.repeat(257), 'max-length'],
  ])('createWebhookEndpoint(description: "%s") → input.description / %s', async (description, rule) => {
    const res = await changesNothing(t, () => t.gql(CREATE, { input: { url: 'https://example.com/h', description } }, key));
    expectInvalid(res.data.r, [{ field: 'input.description', rule }]);
  });

  it('every broken rule is reported at once', async () => {
    const res = await changesNothing(t, () => t.gql(CREATE, { input: { url: 'gopher://x', description: ' ' } }, key));
    expectInvalid(res.data.r, [{ field: 'input.url', rule: 'url-scheme' }, { field: 'input.description', rule: 'not-blank' }]);
  });

  it('a status that is not a JobStatus is refused by the schema', async () => {
    const res = await changesNothing(t, () => t.gql(CREATE, { input: { url: 'https://example.com/h', statuses: ['DONE'] } }, key));
    expect(res.errors?.[0]?.message).toMatch(/JobStatus/);
  });

  it.each([
    [{ url: 'mailto:a@example.com' }, 'input.url', 'url-scheme'],
    [{ url: null }, 'input.url', 'not-null'],
    [{ enabled: null }, 'input.enabled', 'not-null'],
    [{ description: '' }, 'input.description', 'not-blank'],
    [{ url: 'https://example.com/ok', description: 'y'.repeat(300) }, 'input.description', 'max-length'],
  ])('updateWebhookEndpoint(%j) → %s / %s, endpoint unchanged', async (input, field, rule) => {
    const res = await changesNothing(t, () => t.gql(UPDATE, { id: hook.id, input }, key));
    expectInvalid(res.data.r, [{ field, rule }]);
  });

  it('malformed ids → InvalidInputError on id; unknown ids → WebhookNotFoundError; nothing changed', async () => {
    const unknown = webhookGlobalId(randomUUID());
    const jobId = Buffer.from(`FaceswapV4Job:${randomUUID()}`).toString('base64');
    await changesNothing(t, async () => {
      for (const id of ['nope', '', jobId, webhookGlobalId('123')]) {
        for (const [mutation, vars] of [[UPDATE, { id, input: { enabled: false } }], [ROTATE, { id }], [DELETE, { id }]] as const) {
          const res = await t.gql(mutation, vars, key);
          expectInvalid(res.data.r, [{ field: 'id', rule: 'global-id' }]);
        }
      }
      for (const [mutation, vars] of [[UPDATE, { id: unknown, input: { enabled: false } }], [ROTATE, { id: unknown }], [DELETE, { id: unknown }]] as const) {
        const res = await t.gql(mutation, vars, key);
        expect(res.data.r).toMatchObject({ __typename: 'WebhookNotFoundError', id: unknown });
      }
      expectInvalid((await t.gql(RETRY, { id: 'nope' }, key)).data.r, [{ field: 'id', rule: 'uuid' }]);
      const gone = randomUUID();
      expect((await t.gql(RETRY, { id: gone }, key)).data.r).toMatchObject({ __typename: 'WebhookNotFoundError', id: gone });
    });
  });

  it('webhookEndpoint(id) and node(id): malformed → BAD_USER_INPUT, unknown → NOT_FOUND / null', async () => {
    expectRequestError(await t.gql(DELIVERIES, { id: 'nope' }, key), { code: 'BAD_USER_INPUT', field: 'id', rule: 'global-id' });
    expectRequestError(await t.gql(DELIVERIES, { id: webhookGlobalId(randomUUID()) }, key), { code: 'NOT_FOUND', field: 'id', rule: 'exists' });
    const node = await t.gql(`query($id: ID!) { node(id: $id) { id } }`, { id: webhookGlobalId(randomUUID()) }, key);
    expect(node.errors).toBeUndefined();
    expect(node.data.node).toBeNull();
    expectRequestError(await t.gql(`query($id: ID!) { node(id: $id) { id } }`, { id: webhookGlobalId('x') }, key), {
      code: 'BAD_USER_INPUT', field: 'id', rule: 'global-id',
    });
  });

  it.each([
    [{ first: 0 }, 'first', 'range'],
    [{ first: 101 }, 'first', 'range'],
    [{ after: 'not-a-cursor' }, 'after', 'cursor'],
    [{ job: 'not-a-job' }, 'job', 'global-id'],
    [{ job: Buffer.from('WebhookEndpoint:00000000-0000-4000-8000-000000000000').toString('base64') }, 'job', 'global-id'],
  ])('deliveries(%j) → BAD_USER_INPUT on %s / %s', async (vars, field, rule) => {
    expectRequestError(await t.gql(DELIVERIES, { id: hook.id, ...vars }, key), { code: 'BAD_USER_INPUT', field, rule });
  });

  it('deliveries pages forward only: last and before are refused by name', async () => {
    const q = (args: string) => `query($id: ID!) { webhookEndpoint(id: $id) { deliveries(${args}) { edges { cursor } } } }`;
    expectRequestError(await t.gql(q('last: 1'), { id: hook.id }, key), { code: 'BAD_USER_INPUT', field: 'last', rule: 'unsupported' });
    expectRequestError(await t.gql(q('before: "5"'), { id: hook.id }, key), { code: 'BAD_USER_INPUT', field: 'before', rule: 'unsupported' });
  });

  it('the endpoint these requests aimed at is as it was', async () => {
    const res = await t.gql(`query($id: ID!) { webhookEndpoint(id: $id) { url description enabled statuses } }`, { id: hook.id }, key);
    expect(res.data.webhookEndpoint).toEqual({ url: 'https://hooks.example.com/in', description: 'keep me', enabled: true, statuses: [] });
  });
});

describe('without WEBHOOK_ALLOW_PRIVATE (the default), and with a worker in another process', () => {
  let b: TestApp;
  let worker: Awaited<ReturnType<typeof spawnWorker>> | null = null;
  beforeAll(async () => {
    b = await startTestApp({ worker: false });
  });
  afterAll(async () => {
    if (worker) await stopProcess(worker);
    await b?.close();
  });

  it.each([
    'http://127.0.0.1:9/hook',
    'http://127.1/hook',
    'http://0x7f.0.0.1/hook',
    'http://localhost:8080/hook',
    'http://hooks.localhost/hook',
    'http://[::1]/hook',
    'http://[::ffff:127.0.0.1]/hook',
    'http://10.1.2.3/hook',
    'http://172.16.5.4/hook',
    'http://192.168.0.10/hook',
    'http://100.64.0.1/hook',
    'http://169.254.169.254/latest/meta-data',
    'http://[fe80::1]/hook',
    'http://[fd00::1]/hook',
    'http://0.0.0.0/hook',
    // IPv6 forms that carry an IPv4 address, and the other special-purpose blocks:
    'http://[::7f00:1]/hook',
    'http://[::ffff:a9fe:a9fe]/hook',
    'http://[64:ff9b::7f00:1]/hook',
    'http://[64:ff9b:1::a00:1]/hook',
    'http://[2002:7f00:1::1]/hook',
    'http://[2001::1]/hook',
    'http://[2001:db8::1]/hook',
    'http://[100::1]/hook',
    'http://192.88.99.1/hook',
    'http://198.18.0.1/hook',
    'http://255.255.255.255/hook',
  ])('createWebhookEndpoint(url: %s) → input.url / private-address, nothing stored', async (url) => {
    const res = await changesNothing(b, () => b.gql(CREATE, { input: { url } }));
    expectInvalid(res.data.r, [{ field: 'input.url', rule: 'private-address' }]);
    expect(res.data.r.message).toContain('WEBHOOK_ALLOW_PRIVATE');
  });

  it('a host name is refused when it resolves to a private address, and passes when it resolves to public ones or not at all', async () => {
    const url = new URL('https://hooks.internal.example/in');
    const dns = (addresses: string[]): LookupFunction => (_host, _opts, cb) =>
      addresses.length ? cb(null, addresses.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }))) : cb(new Error('ENOTFOUND'), '');
    const policy = webhookPolicy(false);
    expect(await targetRefusal(url, policy, dns(['93.184.215.14', '10.0.0.5']))).toBe(
      'hooks.internal.example resolves to 10.0.0.5, which is private-use (10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16)',
    );
    expect(await targetRefusal(url, policy, dns(['::ffff:169.254.169.254']))).toMatch(/resolves to ::ffff:169\.254\.169\.254, which is IPv4-mapped .*link-local/);
    expect(await targetRefusal(url, policy, dns(['93.184.215.14', '2606:2800:21f:cb07:6820:80da:af6b:8b2c']))).toBeNull();
    // Unresolvable now: accepted here; the dispatcher checks the address it actually connects to.
    expect(await targetRefusal(url, policy, dns([]))).toBeNull();
    expect(await targetRefusal(url, webhookPolicy(true), dns(['10.0.0.5']))).toBeNull();
  });

  it('a public address is accepted, and cannot be updated to a private one', async () => {
    const created = await b.gql(CREATE, { input: { url: 'https://93.184.215.14/hook', statuses: ['FAILED'] } });
    expect(created.data.r.__typename).toBe('WebhookEndpointCreated');
    const res = await changesNothing(b, () => b.gql(UPDATE, { id: created.data.r.endpoint.id, input: { url: 'http://10.0.0.1/' } }));
    expectInvalid(res.data.r, [{ field: 'input.url', rule: 'private-address' }]);
    await b.gql(DELETE, { id: created.data.r.endpoint.id });
  });

  it('the dispatcher refuses private targets when it connects, too (endpoints stored while they were allowed)', async () => {
    const key = await b.newKey('stored-earlier');
    const identity = (await authenticateApiKey(b.app.db.pool, key))!;
    const recv = await receiver();
    for (const url of [recv.url, `http://localhost:${recv.port}/hook`]) {
      const made = await createEndpoint(b.app.db.prisma, identity.id, { url, statuses: ['QUEUED'] }, { allowPrivate: true });
      expect(made.ok).toBe(true);
    }
    // No worker runs in this app: creating the job records its QUEUED event, which owes both endpoints a delivery.
    const res = await b.gql(createV4, { input: MODEL_CASES[0].input }, key);
    expect(res.data.result.status).toBe('QUEUED');
    const dispatcher = new WebhookDispatcher({
      databaseUrl: b.databaseUrl,
      pool: b.app.db.pool,
      config: { ...b.config.webhooks, allowPrivate: false, retryScheduleMs: [], idlePollMs: 20 },
      log: () => {},
    });
    await dispatcher.start();
    try {
      const list = await b.gql(`{ webhookEndpoints { id url } }`, {}, key);
      const errors: string[] = [];
      for (const endpoint of list.data.webhookEndpoints) {
        const [d] = await waitForLog(b, key, endpoint.id, (x) => x[0]?.status === 'FAILED');
        expect(d.attempts).toHaveLength(1);
        expect(d.attempts[0].responseStatus).toBeNull();
        errors.push(d.attempts[0].error);
      }
      expect(errors.sort()).toEqual([
        'refused: 127.0.0.1 is loopback (127.0.0.0/8); WEBHOOK_ALLOW_PRIVATE is off',
        expect.stringMatching(/^refused: localhost resolves to (127\.0\.0\.1|::1), which is loopback \((127\.0\.0\.0\/8|::1\/128)\); WEBHOOK_ALLOW_PRIVATE is off$/),
      ]);
    } finally {
      await dispatcher.stop();
    }
    expect(recv.receipts).toHaveLength(0);
  });

  it('a worker started with `npm run worker` delivers webhooks too', async () => {
    const key = await b.newKey('worker-process');
    const identity = (await authenticateApiKey(b.app.db.pool, key))!;
    const recv = await receiver();
    const made = await createEndpoint(b.app.db.prisma, identity.id, { url: recv.url, statuses: ['COMPLETED'] }, { allowPrivate: true });
    if (!made.ok) throw new Error(JSON.stringify(made.violations));
    worker = await spawnWorker(b, { ...WEBHOOK_ENV });
    const job = await runJob(b, key);
    const [r] = await recv.waitFor(1);
    const payload = new Webhook(made.value.secret).verify(r!.body, headersOf(r!)) as any;
    expect(payload).toMatchObject({ type: 'job.completed', data: { id: job.id, status: 'COMPLETED' } });
    const [d] = await waitForLog(b, key, Buffer.from(`WebhookEndpoint:${made.value.endpoint.id}`).toString('base64'), (x) => x[0]?.status === 'SUCCEEDED');
    expect(d.id).toBe(r!.headers['webhook-id']);
  });
});
