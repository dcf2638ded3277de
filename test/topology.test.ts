// More than one process, as a team deploys it: HAProxy in front of two API
// processes, two worker processes, one PostgreSQL, one emulator. Everything is a
// real OS process; the proxy is Debian's haproxy (.ci/run installs it).
// - Subscribers connected through the proxy get every event of their key, of
//   jobs created through either API, in order, once.
// - Outputs download through either API (they share the artifact folder here).
// - An API process killed with SIGKILL mid-stream: its subscribers reconnect
//   through the proxy and resume with `since`, without a gap or a duplicate.
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClient, type Client } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { connectDb, type Db } from '../src/db/client.js';
import { startEmulator, type Emulator } from '../src/emulator/index.js';
import { createApiKey } from '../src/services/api-keys.js';
import { FAST_ENV } from './support/app.js';
import { createTestDatabase } from './support/db.js';
import { findHaproxy, HAPROXY_MISSING, startHaproxy, type Haproxy } from './support/haproxy.js';
import { SOURCE_URL, TARGET_URL } from './support/fixtures.js';
import { spawnNode, stopProcess, type SpawnedProcess } from './support/processes.js';
import { waitUntil } from './support/wait.js';

const haproxyBin = findHaproxy();
if (!haproxyBin) {
  console.warn(`\n*** SKIPPED test/topology.test.ts: ${HAPROXY_MISSING} ***\n`);
}

const CREATE = `mutation($input: CreateFaceswapV4JobInput!) {
  createFaceswapV4Job(input: $input) { __typename ... on FaceswapV4Job { id } ... on InvalidInputError { message } } }`;
const SUBSCRIBE = `subscription($since: String) { jobsUpdated(since: $since) { cursor status job { id } } }`;

interface Delivered { cursor: string; status: string; jobId: string }

/**
 * A subscriber as a careful app writes one: on any loss of its socket it connects
 * again (through the proxy) and resumes after the last cursor it saw.
 */
function resumingSubscriber(url: string, key: string) {
  const delivered: Delivered[] = [];
  let reconnects = 0;
  let client: Client | null = null;
  let stopped = false;
  const connect = () => {
    if (stopped) return;
    const since = delivered.at(-1)?.cursor ?? '0';
    // retryAttempts 0: graphql-ws would otherwise resubscribe with the old variables (the old `since`).
    const c = createClient({ url, webSocketImpl: WebSocket, connectionParams: { authorization: `Bearer ${key}` }, retryAttempts: 0, lazy: true });
    client = c;
    const again = () => {
      if (stopped || client !== c) return;
      reconnects++;
      void c.dispose();
      setTimeout(connect, 100);
    };
    c.subscribe<{ jobsUpdated: { cursor: string; status: string; job: { id: string } } }>(
      { query: SUBSCRIBE, variables: { since } },
      {
        next: ({ data, errors }) => {
          if (errors?.length || !data) throw new Error(`subscription error: ${JSON.stringify(errors)}`);
          const e = data.jobsUpdated;
          delivered.push({ cursor: e.cursor, status: e.status, jobId: e.job.id });
        },
        error: again,
        complete: again,
      },
    );
  };
  connect();
  return {
    delivered,
    reconnects: () => reconnects,
    async stop() {
      stopped = true;
      await client?.dispose();
    },
  };
}

describe.skipIf(!haproxyBin)('two API and two worker processes behind HAProxy', () => {
  let db: Db;
  let emulator: Emulator;
  let dataDir: string;
  let key: string;
  let keyId: string;
  const apis: SpawnedProcess[] = [];
  const workers: SpawnedProcess[] = [];
  let proxy: Haproxy;
  let proxyUrl: string;

  const apiUrl = (i: number) => /Swapyard GraphQL API: (http:\/\/\S+)\/graphql/.exec(apis[i]!.output())![1]!;

  beforeAll(async () => {
    const databaseUrl = await createTestDatabase();
    db = connectDb(databaseUrl, { max: 4 });
    emulator = await startEmulator({ latencyMs: { sync: 5, queueStep: 30, workflowStep: 30 } });
    dataDir = await mkdtemp(join(tmpdir(), 'swapyard-topology-'));
    // A key before the APIs start, so neither makes a "first key" of its own.
    const created = await createApiKey(db.pool, 'topology');
    key = created.secret;
    keyId = created.id;
    const env = { ...FAST_ENV, DATABASE_URL: databaseUrl, SEGMIND_BASE_URL: emulator.url, SWAPYARD_DATA_DIR: dataDir };
    const started = await Promise.all([
      spawnNode(['--import', 'tsx', 'src/main.ts'], { ...env, SWAPYARD_EMBEDDED_WORKER: 'false' }, /Swapyard GraphQL API: (http:\/\/\S+)\/graphql/),
      spawnNode(['--import', 'tsx', 'src/main.ts'], { ...env, SWAPYARD_EMBEDDED_WORKER: 'false' }, /Swapyard GraphQL API: (http:\/\/\S+)\/graphql/),
      spawnNode(['--import', 'tsx', 'src/worker-main.ts'], env, /running/),
      spawnNode(['--import', 'tsx', 'src/worker-main.ts'], env, /running/),
    ]);
    apis.push(started[0], started[1]);
    workers.push(started[2], started[3]);

    proxy = await startHaproxy(haproxyBin!, [apiUrl(0), apiUrl(1)], dataDir);
    proxyUrl = proxy.url;
  });

  afterAll(async () => {
    if (proxy) await proxy.stop();
    await Promise.all([...apis, ...workers].map((p) => stopProcess(p)));
    await emulator?.close();
    await db?.close();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  /** Creates a job at `base` (an API or the proxy), retried with the same idempotency key until it is answered. */
  async function createJob(base: string): Promise<string> {
    const idempotencyKey = randomUUID();
    return waitUntil(async () => {
      const res = await fetch(`${base}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
        body: JSON.stringify({ query: CREATE, variables: { input: { sourceImage: SOURCE_URL, targetImage: TARGET_URL, idempotencyKey } } }),
      }).catch(() => null);
      if (!res?.ok) return undefined;
      const body = (await res.json()) as { data?: { createFaceswapV4Job?: { __typename: string; id?: string } } };
      return body.data?.createFaceswapV4Job?.id;
    }, () => `a job to be created through ${base}`, { everyMs: 100 });
  }

  async function eventsInDatabase(): Promise<string[]> {
    const { rows } = await db.pool.query<{ id: string }>(`SELECT id::text AS id FROM job_events WHERE api_key_id = $1 ORDER BY job_events.id`, [keyId]);
    return rows.map((r) => r.id);
  }

  async function jobStatuses(ids: string[]): Promise<string[]> {
    const { rows } = await db.pool.query<{ status: string }>(
      `SELECT status::text AS status FROM jobs WHERE id = ANY($1::uuid[])`,
      [ids.map((g) => Buffer.from(g, 'base64').toString('utf8').split(':')[1])],
    );
    return rows.map((r) => r.status);
  }

  it('delivers every event to subscribers on either API, downloads outputs from either, and resumes without a gap after an API is killed', async () => {
    const wsUrl = `${proxyUrl.replace('http', 'ws')}/graphql`;
    const subscribers = Array.from({ length: 4 }, () => resumingSubscriber(wsUrl, key));
    // Round robin puts two subscribers on each API; wait until each API holds its share.
    await waitUntil(async () => {
      const res = await fetch(`${proxyUrl}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
        body: JSON.stringify({ query: '{ __typename }' }),
      });
      return res.ok || undefined;
    }, () => 'the proxy to pass GraphQL requests');

    // Phase 1: jobs created on each API directly, alternately.
    const direct: string[] = [];
    for (let i = 0; i < 10; i++) direct.push(await createJob(apiUrl(i % 2)));
    await waitUntil(async () => ((await jobStatuses(direct)).every((s) => s === 'COMPLETED') || undefined), () => 'the first jobs to complete');

    // Each output downloads, byte for byte the same, from either API.
    const outputUrls = await Promise.all(direct.map(async (id) => {
      const res = await fetch(`${apiUrl(0)}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
        body: JSON.stringify({ query: 'query($id: ID!) { node(id: $id) { ... on SwapJob { output { url } } } }', variables: { id } }),
      });
      return new URL(((await res.json()) as { data: { node: { output: { url: string } } } }).data.node.output.url).pathname;
    }));
    expect(outputUrls.length).toBe(direct.length);
    for (const path of outputUrls) {
      const [a, b] = await Promise.all([0, 1].map(async (i) => {
        const res = await fetch(`${apiUrl(i)}${path}`, { headers: { authorization: `Bearer ${key}` } });
        expect(res.status, `${path} from API ${i}`).toBe(200);
        return Buffer.from(await res.arrayBuffer());
      }));
      expect(a!.length).toBeGreaterThan(0);
      expect(b!.equals(a!)).toBe(true);
    }

    // Phase 2: a steady stream through the proxy; API 1 is killed in the middle of it.
    const streamed: string[] = [];
    const stream = (async () => {
      for (let i = 0; i < 40; i++) streamed.push(await createJob(proxyUrl));
    })();
    await waitUntil(() => streamed.length >= 10 || undefined, () => '10 jobs of the stream to be created');
    apis[1]!.kill('SIGKILL');
    await stream;
    const all = [...direct, ...streamed];
    await waitUntil(async () => ((await jobStatuses(all)).every((s) => s === 'COMPLETED') || undefined), () => 'every job to complete', { everyMs: 200 });

    // Every subscriber has every event of the key, in order, once.
    const expected = await eventsInDatabase();
    expect(expected.length).toBeGreaterThanOrEqual(all.length * 3);
    await waitUntil(
      () => subscribers.every((s) => s.delivered.length >= expected.length) || undefined,
      () => `every subscriber to have ${expected.length} events; they have ${subscribers.map((s) => s.delivered.length).join(', ')}`,
    );
    for (const s of subscribers) {
      expect(s.delivered.map((e) => e.cursor)).toEqual(expected);
    }
    // The killed API's subscribers came back through the proxy.
    expect(subscribers.filter((s) => s.reconnects() > 0).length).toBeGreaterThanOrEqual(1);
    await Promise.all(subscribers.map((s) => s.stop()));
  });
});
