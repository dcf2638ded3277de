// Per-key limits (src/server/key-limits.ts), over real HTTP and real graphql-ws
// clients: requests per second (HTTP 429 + Retry-After, a graphql-ws error for the
// refused subscribe with the socket kept), operations per connection, connections
// per key (close 1013, which graphql-ws clients retry), and the PostgreSQL store
// that makes the rate one limit across API processes.
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { collect, startTestApp, type TestApp } from './support/app.js';
import { createMutation, MODEL_CASES } from './support/fixtures.js';
import { waitUntil } from './support/wait.js';

const RATE = 5;
const createV4 = createMutation('createFaceswapV4Job', 'CreateFaceswapV4JobInput');
const JOBS_UPDATED = `subscription { jobsUpdated { status } }`;
const clients: Client[] = [];

afterAll(async () => {
  for (const c of clients) await c.dispose();
});

function post(t: TestApp, key: string): Promise<Response> {
  return fetch(`${t.url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
    body: JSON.stringify({ query: '{ __typename }' }),
  });
}

/**
 * The most requests a fixed window of one second admits over `elapsedMs`: the
 * window starts at the first request, so the burst touches at most
 * floor(elapsed / 1 s) + 1 windows.
 */
const mostAdmitted = (elapsedMs: number) => RATE * (Math.floor(elapsedMs / 1000) + 1);

/** A graphql-ws client (the library's own, as any client uses it) that records its closes. */
function wsClient(t: TestApp, key: string, opts: { retryAttempts?: number } = {}) {
  const closes: { code: number; reason: string }[] = [];
  let connected = 0;
  const client = createClient({
    url: t.wsUrl,
    webSocketImpl: WebSocket,
    connectionParams: { authorization: `Bearer ${key}` },
    lazy: false,
    retryAttempts: opts.retryAttempts ?? 0,
    // Quick retries, so the test need not wait out the default backoff.
    retryWait: async () => new Promise((r) => setTimeout(r, 100)),
    onNonLazyError: () => {},
  });
  client.on('connected', () => connected++);
  client.on('closed', (event) => {
    const e = event as { code: number; reason: string };
    closes.push({ code: e.code, reason: e.reason });
  });
  clients.push(client);
  return { client, closes, connected: () => connected };
}

/** Runs one operation over the client: its result, or the errors it was refused with. */
function run(client: Client, query: string): Promise<{ data?: unknown; errors?: any[]; closed?: unknown }> {
  return new Promise((resolve) => {
    let result: unknown;
    client.subscribe({ query }, {
      next: (msg) => (result = msg),
      error: (err) => resolve(Array.isArray(err) ? { errors: err } : { closed: err }),
      complete: () => resolve(result as { data?: unknown }),
    });
  });
}

describe('requests per second', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ worker: false, env: { API_KEY_REQUESTS_PER_SECOND: String(RATE) } });
  });
  afterAll(async () => {
    await t?.close();
  });

  it('HTTP: beyond the rate a key gets 429 with Retry-After and RATE_LIMITED; another key is not affected; after the wait it gets in', async () => {
    const key = await t.newKey('burst');
    const n = 4 * RATE;
    const started = Date.now();
    const answers = await Promise.all(Array.from({ length: n }, () => post(t, key)));
    const elapsed = Date.now() - started;
    const admitted = answers.filter((a) => a.status === 200).length;
    const refused = answers.filter((a) => a.status === 429);
    expect(admitted + refused.length).toBe(n);
    expect(admitted).toBeGreaterThanOrEqual(RATE);
    expect(admitted).toBeLessThanOrEqual(mostAdmitted(elapsed));
    expect(refused.length).toBeGreaterThan(0);
    expect(refused[0]!.headers.get('retry-after')).toBe('1');
    const body = (await refused[0]!.json()) as { data?: unknown; errors: { message: string; extensions: unknown }[] };
    expect(body.data ?? null).toBeNull();
    expect(body.errors).toEqual([{
      message: `Too many requests for this API key: at most ${RATE} per second. Retry after 1 s.`,
      extensions: { code: 'RATE_LIMITED', field: 'Authorization', rule: 'requests-per-second', limit: RATE, retryAfterSeconds: 1 },
    }]);
    expect((await post(t, t.key)).status).toBe(200);
    await waitUntil(async () => (await post(t, key)).status === 200, () => 'the key was never admitted again');
  });

  it('a refused request changes nothing: a create beyond the rate creates no job', async () => {
    const key = await t.newKey('creates');
    const create = () => fetch(`${t.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
      body: JSON.stringify({ query: createV4, variables: { input: MODEL_CASES[0].input } }),
    });
    const answers = await Promise.all(Array.from({ length: 3 * RATE }, create));
    const created = answers.filter((a) => a.status === 200).length;
    expect(answers.some((a) => a.status === 429)).toBe(true);
    const { rows } = await t.app.db.pool.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM jobs JOIN api_keys k ON k.id = jobs.api_key_id WHERE k.name = 'creates'`,
    );
    expect(rows[0]!.n).toBe(created);
  });

  it('output downloads count too: 429 with Retry-After', async () => {
    const key = await t.newKey('downloads');
    const refused = await waitUntil(async () => {
      const answers = await Promise.all(Array.from({ length: RATE + 1 }, () =>
        fetch(`${t.url}/outputs/nope`, { headers: { authorization: `Bearer ${key}` } })));
      return answers.find((a) => a.status === 429);
    }, () => 'no download was refused');
    expect(refused.headers.get('retry-after')).toBe('1');
    expect(await refused.json()).toEqual({ error: `Too many requests for this API key: at most ${RATE} per second. Retry after 1 s.` });
  });

  it('graphql-ws: each subscribe counts; a refused one gets a RATE_LIMITED error for its id, and the socket and its other operations live on', async () => {
    const key = await t.newKey('ws-burst');
    const { client, closes } = wsClient(t, key);
    const n = 4 * RATE;
    const started = Date.now();
    const outcomes = await Promise.all(Array.from({ length: n }, () => run(client, '{ __typename }')));
    const elapsed = Date.now() - started;
    const ran = outcomes.filter((o) => o.data);
    const refused = outcomes.filter((o) => o.errors);
    expect(ran.length + refused.length).toBe(n);
    expect(ran.length).toBeLessThanOrEqual(mostAdmitted(elapsed));
    expect(refused.length).toBeGreaterThan(0);
    expect(refused[0]!.errors).toEqual([{
      message: `Too many requests for this API key: at most ${RATE} per second. Retry after 1 s.`,
      extensions: { code: 'RATE_LIMITED', field: 'Authorization', rule: 'requests-per-second', limit: RATE, retryAfterSeconds: 1 },
    }]);
    expect(closes).toEqual([]);
    // The same socket runs operations again once the window has passed.
    await waitUntil(async () => (await run(client, '{ __typename }')).data !== undefined, () => 'never admitted again');
    expect(closes).toEqual([]);
  });
});

describe('connections and their operations', () => {
  const PER_SOCKET = 3;
  const SOCKETS = 2;
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({
      worker: false,
      env: { WS_MAX_SUBSCRIPTIONS_PER_SOCKET: String(PER_SOCKET), API_KEY_MAX_SOCKETS: String(SOCKETS) },
    });
  });
  afterAll(async () => {
    await t?.close();
  });

  it('an operation beyond the connection\'s cap gets LIMIT_EXCEEDED for its id; the socket and its subscriptions live on; completing one makes room', async () => {
    const key = await t.newKey('subs');
    const { client, closes } = wsClient(t, key);
    const before = t.app.events.subscriberCount();
    const live = Array.from({ length: PER_SOCKET }, () => collect(client, JOBS_UPDATED, {}, (events) => events.length >= 1));
    await waitUntil(async () => t.app.events.subscriberCount() === before + PER_SOCKET, () => 'the subscriptions never started');
    const refused = await run(client, JOBS_UPDATED);
    expect(refused).toEqual({
      errors: [{
        message: `This connection already runs ${PER_SOCKET} operations, the most one connection may; complete one, or open another connection.`,
        extensions: { code: 'LIMIT_EXCEEDED', field: 'subscribe', rule: 'subscriptions-per-socket', limit: PER_SOCKET },
      }],
    });
    expect(t.app.events.subscriberCount()).toBe(before + PER_SOCKET);
    // The live ones still get events; each ends (completes) after its first.
    await t.gql(createV4, { input: MODEL_CASES[0].input }, key);
    for (const sub of live) expect(await sub.finished).toEqual([{ jobsUpdated: { status: 'QUEUED' } }]);
    expect(closes).toEqual([]);
    // Room again: a new one is accepted and gets the next event.
    await waitUntil(async () => t.app.events.subscriberCount() === before, () => 'the subscriptions did not end');
    const next = collect(client, JOBS_UPDATED, {}, (events) => events.length >= 1);
    await waitUntil(async () => t.app.events.subscriberCount() === before + 1, () => 'the new subscription never started');
    await t.gql(createV4, { input: MODEL_CASES[0].input }, key);
    expect(await next.finished).toEqual([{ jobsUpdated: { status: 'QUEUED' } }]);
  });

  it('a connection beyond the key\'s cap is closed with 1013 and the reason; other keys connect; a retrying client gets in once a slot frees', async () => {
    const key = await t.newKey('sockets');
    const first = wsClient(t, key);
    const second = wsClient(t, key);
    await waitUntil(async () => first.connected() === 1 && second.connected() === 1, () => 'the first two never connected');
    const third = wsClient(t, key);
    const refused = await run(third.client, JOBS_UPDATED);
    const expected = { code: 1013, reason: `Too many connections for this API key (at most ${SOCKETS})` };
    expect((refused.closed as { code: number; reason: string })).toMatchObject(expected);
    expect(third.closes).toEqual([expected]);
    expect(third.connected()).toBe(0);

    const other = wsClient(t, await t.newKey('another'));
    await waitUntil(async () => other.connected() === 1, () => 'another key could not connect');

    // graphql-ws retries on 1013 (a temporary condition); it connects as soon as one of the two closes.
    const before = t.app.events.subscriberCount();
    const retrying = wsClient(t, key, { retryAttempts: 1000 });
    const sub = collect(retrying.client, JOBS_UPDATED, {}, (events) => events.length >= 1);
    await waitUntil(async () => retrying.closes.length >= 1, () => 'the retrying client was never refused');
    expect(retrying.closes[0]).toEqual(expected);
    await first.client.dispose();
    await waitUntil(async () => retrying.connected() === 1, () => `never connected: ${JSON.stringify(retrying.closes.slice(-3))}`);
    await waitUntil(async () => t.app.events.subscriberCount() === before + 1, () => 'its subscription never started');
    await t.gql(createV4, { input: MODEL_CASES[0].input }, key);
    expect(await sub.finished).toEqual([{ jobsUpdated: { status: 'QUEUED' } }]);
  });
});

describe('the PostgreSQL store', () => {
  let a: TestApp;
  let b: TestApp;
  beforeAll(async () => {
    const env = { API_KEY_REQUESTS_PER_SECOND: String(RATE), API_KEY_RATE_LIMIT_STORE: 'postgres' };
    a = await startTestApp({ worker: false, env });
    b = await startTestApp({ worker: false, env, databaseUrl: a.databaseUrl });
  });
  afterAll(async () => {
    await b?.close();
    await a?.close();
  });

  it('one rate for a key across API processes: requests spread over two processes are admitted as if to one', async () => {
    const key = await a.newKey('shared');
    // Warm both processes (first requests plan statements and fill pools), so the burst fits in one window.
    await Promise.all([post(a, a.key), post(b, b.key), post(a, a.key), post(b, b.key)]);
    const n = 4 * RATE;
    const started = Date.now();
    const answers = await Promise.all(Array.from({ length: n }, (_, i) => post(i % 2 ? b : a, key)));
    const elapsed = Date.now() - started;
    const admitted = answers.filter((r) => r.status === 200).length;
    // Counted in memory per process, the two would admit up to twice as many.
    expect(admitted).toBeGreaterThanOrEqual(RATE);
    expect(admitted).toBeLessThanOrEqual(mostAdmitted(elapsed));
    expect(answers.filter((r) => r.status === 429).length).toBe(n - admitted);
    const { rows } = await a.app.db.pool.query<{ key: string; points: number }>(
      `SELECT r.key, r.points FROM api_key_rate_limits r JOIN api_keys k ON r.key = 'rq:' || k.id WHERE k.name = 'shared'`,
    );
    expect(rows).toHaveLength(1);
  });
});
