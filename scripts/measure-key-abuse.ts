// What one API key can do to the service (issue 13): subscriptions on one socket,
// sockets per key, requests per second, a syntax error among live subscriptions,
// and revoking a key. Runs the test app (real PostgreSQL, real sockets) and
// prints what happened; run it before and after a change to compare.
//   npx tsx scripts/measure-key-abuse.ts [--subscriptions 3000] [--sockets 500] [--requests 300]
import WebSocket from 'ws';
import { startTestApp } from '../test/support/app.js';
import { createApiKey } from '../src/services/api-keys.js';
import { createBenchDatabase } from '../bench/support/db.js';

const arg = (name: string, fallback: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
};
const SUBSCRIPTIONS = arg('subscriptions', 3000);
const SOCKETS = arg('sockets', 500);
const REQUESTS = arg('requests', 300);
const SUB = 'subscription { jobsUpdated { status } }';

const db = await createBenchDatabase('key_abuse');
// The service's default limits ('' = the default; the test harness turns them off).
const DEFAULT_LIMITS = { API_KEY_REQUESTS_PER_SECOND: '', API_KEY_MAX_SOCKETS: '', WS_MAX_SUBSCRIPTIONS_PER_SOCKET: '' };
const t = await startTestApp({ worker: false, databaseUrl: db.url, env: { UPSTREAM_CREDIT_READINGS: 'false', ...DEFAULT_LIMITS } });
const admin = (await createApiKey(t.app.db.pool, 'admin', { admin: true })).secret;
const until = async (check: () => boolean, ms: number) => {
  const deadline = Date.now() + ms;
  while (!check() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  return check();
};

/** A raw graphql-transport-ws socket, acknowledged or refused. */
function socket(key: string) {
  const ws = new WebSocket(t.wsUrl, 'graphql-transport-ws');
  const seen: any[] = [];
  const state = { ws, seen, acked: false, closed: null as null | { code: number; reason: string } };
  ws.on('message', (d) => {
    const m = JSON.parse(String(d));
    if (m.type === 'connection_ack') state.acked = true;
    seen.push(m);
  });
  ws.on('close', (code, reason) => (state.closed = { code, reason: String(reason) }));
  ws.on('error', () => {});
  ws.on('open', () => ws.send(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${key}` } })));
  return state;
}

const report: Record<string, unknown> = {};
try {
  // 1. Subscriptions on one socket.
  const s = socket(t.key);
  await until(() => s.acked || s.closed !== null, 5000);
  for (let i = 1; i <= SUBSCRIPTIONS; i++) s.ws.send(JSON.stringify({ id: String(i), type: 'subscribe', payload: { query: SUB } }));
  await until(() => t.app.events.subscriberCount() >= SUBSCRIPTIONS || s.seen.filter((m) => m.type === 'error').length + t.app.events.subscriberCount() >= SUBSCRIPTIONS, 20_000);
  await new Promise((r) => setTimeout(r, 500)); // let refusals arrive (a measurement, not a test)
  report.subscriptionsOnOneSocket = {
    sent: SUBSCRIPTIONS,
    live: t.app.events.subscriberCount(),
    refused: s.seen.filter((m) => m.type === 'error').length,
    firstRefusal: s.seen.find((m) => m.type === 'error')?.payload,
    socketClosed: s.closed,
  };

  // 2. A syntax error among live subscriptions (one completed first, so a cap leaves room for it).
  s.ws.send(JSON.stringify({ id: '1', type: 'complete' }));
  const full = t.app.events.subscriberCount();
  await until(() => t.app.events.subscriberCount() < full, 5000);
  const before = t.app.events.subscriberCount();
  s.ws.send(JSON.stringify({ id: 'bad', type: 'subscribe', payload: { query: 'subscription { jobsUpdated { status }' } }));
  await until(() => s.closed !== null || s.seen.some((m) => m.id === 'bad'), 5000);
  await until(() => s.closed === null || t.app.events.subscriberCount() < before, 2000);
  report.syntaxError = {
    answer: s.seen.find((m) => m.id === 'bad') ?? null,
    socketClosed: s.closed,
    liveSubscriptionsBefore: before,
    liveSubscriptionsAfter: t.app.events.subscriberCount(),
  };
  s.ws.close();
  await until(() => t.app.events.subscriberCount() === 0, 10_000);

  // 3. Sockets of one key.
  const socks = Array.from({ length: SOCKETS }, () => socket(t.key));
  await until(() => socks.every((x) => x.acked || x.closed !== null), 30_000);
  report.socketsOfOneKey = {
    opened: SOCKETS,
    acknowledged: socks.filter((x) => x.acked && x.closed === null).length,
    refused: socks.filter((x) => x.closed !== null).length,
    firstRefusal: socks.find((x) => x.closed !== null)?.closed ?? null,
  };
  for (const x of socks) x.ws.close();

  // 4. Requests per second from one key.
  const started = Date.now();
  const statuses = await Promise.all(Array.from({ length: REQUESTS }, () =>
    fetch(`${t.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${t.key}` },
      body: JSON.stringify({ query: '{ __typename }' }),
    }).then(async (r) => ({ status: r.status, retryAfter: r.headers.get('retry-after') }))));
  const count = (st: number) => statuses.filter((x) => x.status === st).length;
  report.requestsOfOneKey = {
    sent: REQUESTS,
    seconds: (Date.now() - started) / 1000,
    ok: count(200),
    refused429: count(429),
    retryAfter: statuses.find((x) => x.status === 429)?.retryAfter ?? null,
  };

  // 5. Revoking a key: the mutation, then how long its open socket lives on.
  const victim = (await createApiKey(t.app.db.pool, 'victim')).secret;
  const viewer = await t.gql('{ viewer { id } }', {}, victim);
  const v = socket(victim);
  await until(() => v.acked || v.closed !== null, 5000);
  const revokedAt = Date.now();
  const revoke = await t.gql('mutation($id: ID!) { revokeApiKey(id: $id) { __typename } }', { id: viewer.data?.viewer?.id }, admin);
  await until(() => v.closed !== null, 5000);
  const after = await t.gql('{ viewer { id } }', {}, victim);
  report.revoke = {
    status: revoke.status,
    answer: revoke.data ?? null,
    errors: revoke.errors?.map((e) => e.message),
    socketClosed: v.closed,
    socketClosedAfterMs: v.closed ? Date.now() - revokedAt : null,
    nextRequest: { status: after.status, code: after.errors?.[0]?.extensions?.code },
  };
} finally {
  console.log(JSON.stringify(report, null, 2));
  await t.close();
  await db.drop();
}
