// No internal text reaches a client (src/server/error-masking.ts): an unexpected
// error is INTERNAL_SERVER_ERROR with an error id the server logs beside the detail;
// a database that cannot be reached is 503 SERVICE_UNAVAILABLE with Retry-After
// (ws: close 1013); DateTime arguments that name no instant are BAD_USER_INPUT
// naming the argument. Over HTTP and graphql-ws, against a real PostgreSQL that the
// test takes away (a TCP proxy) or breaks (a renamed table).
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import type { Client } from 'graphql-ws';
import WebSocket from 'ws';
import { connectDb } from '../src/db/client.js';
import { errorLog } from '../src/server/error-masking.js';
import { isDatabaseUnavailable } from '../src/db/unavailable.js';
import { startTestApp, type TestApp } from './support/app.js';
import { createTestDatabase } from './support/db.js';
import { createMutation, MODEL_CASES } from './support/fixtures.js';
import { waitUntil } from './support/wait.js';
import { proxyDatabase, type TcpProxy } from './support/tcp-proxy.js';

let t: TestApp;
let proxy: TcpProxy;
let direct: pg.Pool;
let jobId: string;
beforeAll(async () => {
  const databaseUrl = await createTestDatabase();
  direct = new pg.Pool({ connectionString: databaseUrl, max: 3 });
  proxy = await proxyDatabase(databaseUrl);
  t = await startTestApp({ worker: false, databaseUrl: proxy.url });
  const created = await t.gql(createMutation('createFaceswapV4Job', 'CreateFaceswapV4JobInput'), { input: MODEL_CASES[0].input });
  jobId = created.data.result.id;
});
afterAll(async () => {
  await t?.close();
  await direct?.end();
});
afterEach(() => {
  vi.restoreAllMocks();
});

/** What must never reach a client. */
const INTERNALS = [/prisma/i, /invocation/i, /node_modules/, /\/work\//, /\.ts:\d+/, /ECONNREFUSED/, /127\.0\.0\.1/, /job_events/, /SQL|22008|42P01/];

function expectNoInternals(text: string): void {
  for (const pattern of INTERNALS) expect(text).not.toMatch(pattern);
}

/** The first error of an operation sent over graphql-ws, or how its socket closed. */
function overWs(client: Client, query: string, variables: Record<string, unknown> = {}): Promise<{ errors?: any[]; close?: { code: number; reason: string } }> {
  return new Promise((resolve) => {
    client.subscribe({ query, variables }, {
      next: (msg) => msg.errors && resolve({ errors: msg.errors as any[] }),
      error: (err: any) => resolve(Array.isArray(err) ? { errors: err } : { close: { code: err.code, reason: err.reason } }),
      complete: () => resolve({}),
    });
  });
}

describe('DateTime arguments', () => {
  const query = (filter: string) => `{ jobs(filter: { ${filter} }) { edges { node { id } } } }`;
  const byVariable = 'query($f: JobFilter) { jobs(filter: $f) { edges { node { id } } } }';

  it.each([
    { value: '0000-01-01T00:00:00Z', rule: 'date-range' },
    { value: '10000-01-01T00:00:00Z', rule: 'iso-8601' },
    { value: '2026-01-01T00:00:00', rule: 'iso-8601' },
    { value: '2026-02-30T00:00:00Z', rule: 'iso-8601' },
  ])('a literal $value → 400 BAD_USER_INPUT naming filter.createdAfter ($rule)', async ({ value, rule }) => {
    const res = await t.gql(query(`createdAfter: "${value}"`));
    expect(res.status).toBe(400);
    expect(res.errors).toHaveLength(1);
    expect(res.errors![0]!.extensions).toEqual({ code: 'BAD_USER_INPUT', field: 'filter.createdAfter', rule });
    expect(res.errors![0]!.message).toContain('filter.createdAfter');
    expectNoInternals(JSON.stringify(res));
  });

  it('in variables: 400 BAD_USER_INPUT naming the variable and its path', async () => {
    const res = await t.gql(byVariable, { f: { createdBefore: '0000-01-01T00:00:00Z' } });
    expect(res.status).toBe(400);
    expect(res.errors![0]!.extensions).toMatchObject({ code: 'BAD_USER_INPUT', rule: 'date-range' });
    expect(res.errors![0]!.message).toMatch(/\$f.*f\.createdBefore/);
    expectNoInternals(JSON.stringify(res));
  });

  it('creditSpend names its own argument', async () => {
    const res = await t.gql('{ creditSpend(from: "2026-01-01T00:00:00", to: "2027-01-01T00:00:00Z") { count } }');
    expect(res.errors![0]!.extensions).toEqual({ code: 'BAD_USER_INPUT', field: 'from', rule: 'iso-8601' });
  });

  it('a zone and an instant in range are accepted', async () => {
    const res = await t.gql(query('createdAfter: "0001-01-01T00:00:00Z", createdBefore: "9999-12-31T23:59:59+00:00"'));
    expect(res.errors).toBeUndefined();
    expect(res.data.jobs.edges).toHaveLength(1);
  });

  it('over graphql-ws the same error', async () => {
    const res = await overWs(t.wsClient(), query('createdAfter: "0000-01-01T00:00:00Z"'));
    expect(res.errors?.[0]?.extensions).toEqual({ code: 'BAD_USER_INPUT', field: 'filter.createdAfter', rule: 'date-range' });
  });
});

describe('an unexpected error', () => {
  // A table the API reads, renamed under it: Prisma fails with its own text.
  async function withEventsTableRenamed(run: () => Promise<void>) {
    await direct.query('ALTER TABLE job_events RENAME TO job_events_away');
    try {
      await run();
    } finally {
      await direct.query('ALTER TABLE job_events_away RENAME TO job_events');
    }
  }

  it('over HTTP is INTERNAL_SERVER_ERROR with an error id, and the server logs the detail under that id', async () => {
    const logged = vi.spyOn(errorLog, 'error').mockImplementation(() => {});
    await withEventsTableRenamed(async () => {
      const res = await t.gql('query($id: ID!) { job(id: $id) { id events { status } } }', { id: jobId });
      const error = res.errors![0]!;
      expect(error.extensions).toEqual({ code: 'INTERNAL_SERVER_ERROR', errorId: expect.stringMatching(/^[0-9a-f-]{36}$/) });
      expect(error.message).toBe(`Internal server error (error id ${error.extensions!.errorId}).`);
      // The job and its events are one read (a relation load), so the error is the job field's.
      expect((error as any).path).toEqual(['job']);
      expectNoInternals(JSON.stringify(res));
      const line = logged.mock.calls.find((call) => (call[0] as unknown as { errorId?: string }).errorId === error.extensions!.errorId);
      expect(line, 'the log line with the error id').toBeDefined();
      expect(String((line![0] as unknown as { err: Error }).err)).toMatch(/job_events/);
    });
  });

  it('over graphql-ws: a failing result is masked the same way', async () => {
    vi.spyOn(console, 'error').mockImplementation(() => {});
    await withEventsTableRenamed(async () => {
      const res = await overWs(t.wsClient(), `{ job(id: "${jobId}") { id events { status } } }`);
      expect(res.errors?.[0]?.extensions).toEqual({ code: 'INTERNAL_SERVER_ERROR', errorId: expect.any(String) });
      expectNoInternals(JSON.stringify(res));
    });
  });

  it('over graphql-ws: a subscription failing while it replays ends with an error message holding only an error id', async () => {
    vi.spyOn(console, 'error').mockImplementation(() => {});
    await withEventsTableRenamed(async () => {
      const res = await overWs(t.wsClient(), 'subscription($id: ID!) { jobUpdated(id: $id) { status } }', { id: jobId });
      expect(res.errors).toEqual([{ message: expect.stringMatching(/^Internal server error \(error id [0-9a-f-]{36}\)\.$/), extensions: { code: 'INTERNAL_SERVER_ERROR', errorId: expect.any(String) } }]);
      expectNoInternals(JSON.stringify(res));
    });
  });
});

describe('the database unavailable', () => {
  it('HTTP (GraphQL and outputs): 503 SERVICE_UNAVAILABLE with Retry-After; ws: close 1013; all without internals; then back', async () => {
    vi.spyOn(console, 'error').mockImplementation(() => {});
    await proxy.stop();
    try {
      const res = await fetch(`${t.url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${t.key}` },
        body: JSON.stringify({ query: '{ jobs(first: 1) { edges { node { id } } } }' }),
      });
      const text = await res.text();
      expect(res.status).toBe(503);
      expect(res.headers.get('retry-after')).toBe('5');
      expect(JSON.parse(text).errors[0].extensions).toEqual({ code: 'SERVICE_UNAVAILABLE', retryAfterSeconds: 5 });
      expectNoInternals(text);

      const output = await fetch(`${t.url}/outputs/${encodeURIComponent(jobId)}`, { headers: { authorization: `Bearer ${t.key}` } });
      expect(output.status).toBe(503);
      expect(output.headers.get('retry-after')).toBe('5');
      expectNoInternals(await output.text());

      const socket = new WebSocket(t.wsUrl, 'graphql-transport-ws');
      socket.on('open', () => socket.send(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${t.key}` } })));
      const closed = await new Promise<{ code: number; reason: string }>((resolve) => socket.on('close', (code, reason) => resolve({ code, reason: String(reason) })));
      expect(closed.code).toBe(1013);
      expectNoInternals(closed.reason);
      expect(closed.reason).toMatch(/unavailable/i);
    } finally {
      await proxy.start();
    }
    const back = await waitUntil(async () => {
      const res = await t.gql('{ jobs(first: 1) { edges { node { id } } } }');
      return res.status === 200 ? res : false;
    }, () => 'the API did not answer again after the database came back');
    expect(back.data.jobs.edges).toHaveLength(1);
  });

  it('lost in the middle of a request: the response is 503 with Retry-After too', async () => {
    vi.spyOn(console, 'error').mockImplementation(() => {});
    // The request passes authentication, then waits on a lock held here, and loses its connection while it waits.
    const holder = await direct.connect();
    await holder.query('BEGIN');
    await holder.query('LOCK TABLE job_events IN ACCESS EXCLUSIVE MODE');
    let stopped = false;
    try {
      const pending = t.gql('query($id: ID!) { job(id: $id) { id events { status } } }', { id: jobId });
      await waitUntil(async () => {
        const { rows } = await direct.query(`SELECT 1 FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query ILIKE '%job_events%' AND pid <> pg_backend_pid()`);
        return rows.length > 0;
      }, () => 'the request never waited on the lock');
      await proxy.stop();
      stopped = true;
      const res = await pending;
      expect(res.status).toBe(503);
      expect(res.errors![0]!.extensions).toEqual({ code: 'SERVICE_UNAVAILABLE', retryAfterSeconds: 5 });
      expectNoInternals(JSON.stringify(res));
    } finally {
      await holder.query('ROLLBACK');
      holder.release();
      if (stopped) await proxy.start();
    }
    await waitUntil(async () => (await t.gql('{ jobs(first: 1) { edges { node { id } } } }')).status === 200, () => 'not back');
  });

  it('is told apart from other database errors, on the errors pg and Prisma really throw', async () => {
    const closed = await proxyDatabase(t.databaseUrl);
    await closed.stop();
    const unreachable = connectDb(closed.url);
    const reachable = connectDb(direct.options.connectionString!);
    try {
      const errors = await Promise.all([
        unreachable.prisma.job.findFirst().catch((e: unknown) => e),
        unreachable.pool.query('SELECT 1').catch((e: unknown) => e),
      ]);
      for (const err of errors) expect(isDatabaseUnavailable(err), String(err)).toBe(true);
      const wrongQuery = await reachable.pool.query('SELECT * FROM no_such_table').catch((e: unknown) => e);
      const outOfRange = await reachable.prisma.job.findFirst({ where: { createdAt: { gt: new Date('0000-01-01T00:00:00Z') } } }).catch((e: unknown) => e);
      expect(isDatabaseUnavailable(wrongQuery)).toBe(false);
      expect(isDatabaseUnavailable(outOfRange)).toBe(false);
    } finally {
      await unreachable.close();
      await reachable.close();
    }
  });
});
