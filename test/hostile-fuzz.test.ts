// A seeded fuzz of hostile and malformed operations against the real service,
// run as its own OS process (`src/main.ts`, as `npm start` runs it) so that a
// crash or a leak shows as what it is: the process dying or its RSS growing.
// Over HTTP and graphql-ws: deep nesting, alias floods, huge and odd
// variables, bad UTF-8, wrong types, other keys' ids, broken frames. Each
// answer must be a typed refusal or a normal answer: no 5xx but the typed 503,
// no internal text (paths, stacks, Prisma, SQL), nothing stored.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator, type Emulator } from '../src/emulator/index.js';
import { seededRandom } from '../src/util/seeded-random.js';
import { createTestDatabase } from './support/db.js';
import { createMutation, MODEL_CASES } from './support/fixtures.js';
import { spawnNode, stopProcess, type SpawnedProcess } from './support/processes.js';
import { waitUntil } from './support/wait.js';

const SEED = Number(process.env.FUZZ_SEED ?? 20261202);
const HTTP_REQUESTS = 1_500;
const WS_SOCKETS = 40;
const WS_MESSAGES_PER_SOCKET = 25;

/** Text that must never reach a client: file paths, stack frames, ORM and driver words. */
const LEAKS = [
  /\/(?:work|home|root|usr|tmp|src|node_modules)\/[\w.-]+/i,
  /\.(?:ts|js|mjs):\d+/,
  /\n\s+at\s/,
  /prisma/i,
  /invocation/i,
  /ECONNREFUSED|ECONNRESET|\b127\.0\.0\.1:\d+/,
  /\bSQLSTATE\b|\bsyntax error at or near\b|\brelation "\w+"/i,
];

let emulator: Emulator;
let api: SpawnedProcess;
let pool: pg.Pool;
let url: string;
let keyA: string;
let keyB: string;
let jobOfB: string;
let dataDir: string;

function rssOf(pid: number): Promise<number> {
  return readFile(`/proc/${pid}/status`, 'utf8').then((s) => Number(/VmRSS:\s+(\d+) kB/.exec(s)![1]) * 1024);
}

async function counts(): Promise<Record<string, number>> {
  const { rows: [r] } = await pool.query(
    `SELECT (SELECT count(*) FROM jobs)::int AS jobs, (SELECT count(*) FROM job_events)::int AS events,
            (SELECT count(*) FROM api_keys)::int AS keys, (SELECT count(*) FROM webhook_endpoints)::int AS webhooks,
            (SELECT count(*) FROM ledger_entries)::int AS ledger`,
  );
  return r;
}

async function post(body: string | Buffer, key: string | null, contentType = 'application/json'): Promise<{ status: number; text: string }> {
  const res = await fetch(`${url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': contentType, ...(key ? { authorization: `Bearer ${key}` } : {}) },
    body,
  });
  return { status: res.status, text: await res.text() };
}

beforeAll(async () => {
  const databaseUrl = await createTestDatabase({ empty: true });
  emulator = await startEmulator({ latencyMs: { sync: 5, queueStep: 30, workflowStep: 30 } });
  dataDir = await mkdtemp(join(tmpdir(), 'swapyard-fuzz-'));
  api = await spawnNode(['--import', 'tsx', 'src/main.ts'], {
    DATABASE_URL: databaseUrl,
    SEGMIND_BASE_URL: emulator.url,
    SWAPYARD_DATA_DIR: dataDir,
    SWAPYARD_PROVIDER: 'segmind',
    PORT: '0',
  }, /Swapyard GraphQL API: (http:\/\/\S+)\/graphql/);
  url = api.ready[1]!;
  keyA = (await readFile(join(dataDir, 'api-key'), 'utf8')).trim();
  pool = new pg.Pool({ connectionString: databaseUrl, max: 2 });
  const { createApiKey } = await import('../src/services/api-keys.js');
  keyB = (await createApiKey(pool, 'fuzz-b')).secret;
  // One real job of key B, whose id key A's operations will name.
  const created = JSON.parse((await post(JSON.stringify({
    query: createMutation('createFaceswapV4Job', 'CreateFaceswapV4JobInput'),
    variables: { input: MODEL_CASES[0].input },
  }), keyB)).text);
  jobOfB = created.data.result.id;
  await waitUntil(async () => {
    const r = JSON.parse((await post(JSON.stringify({ query: `query($id: ID!) { job(id: $id) { status } }`, variables: { id: jobOfB } }), keyB)).text);
    return ['COMPLETED', 'FAILED'].includes(r.data?.job?.status);
  }, () => `key B's job never finished; API output:\n${api.output()}`);
});

afterAll(async () => {
  if (api) await stopProcess(api);
  await pool?.end();
  await emulator?.close();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

/** Operations a hostile or careless client sends; `rand` draws every choice, so a seed replays a run. */
function hostileHttp(rand: () => number): { body: string | Buffer; key: string | null; contentType?: string } {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
  const n = (lo: number, hi: number) => lo + Math.floor(rand() * (hi - lo + 1));
  const nest = (depth: number) => {
    let inner = 'status';
    for (let i = 0; i < depth; i++) inner = `events { job { ${inner} } }`;
    return `{ jobs(first: ${n(1, 100)}) { edges { node { ${inner} } } } }`;
  };
  const aliases = (count: number, field: string) => `{ ${Array.from({ length: count }, (_, i) => `a${i}: ${field}`).join(' ')} }`;
  const rerunChain = (depth: number) => {
    let inner = 'id';
    for (let i = 0; i < depth; i++) inner = `rerunOf { ${inner} }`;
    return `query($id: ID!) { job(id: $id) { ${inner} } }`;
  };
  const json = (query: string, variables?: unknown) => JSON.stringify({ query, variables });
  const kind = n(0, 16);
  switch (kind) {
    case 0: return { body: json(nest(n(2, 12))), key: keyA };
    case 1: return { body: json(aliases(n(50, 3000), 'jobs(first: 100) { edges { node { id } } }')), key: keyA };
    case 2: return { body: json(aliases(n(1000, 20000), '__typename')), key: keyA };
    case 3: return { body: json(rerunChain(n(5, 120)), { id: jobOfB }), key: keyA };
    case 4: return { body: json(`query($id: ID!) { job(id: $id) { id status parameters } }`, { id: jobOfB }), key: keyA };
    case 5: return { body: json(`mutation($id: ID!) { cancelJob(id: $id) { __typename } }`, { id: jobOfB }), key: keyA };
    case 6: return { body: json(`mutation($id: ID!) { rerunJob(id: $id) { __typename } }`, { id: jobOfB }), key: keyA };
    case 7: return {
      body: json(`query($f: JobFilter) { jobs(filter: $f) { edges { node { id } } } }`, {
        f: { createdAfter: pick(['0000-01-01T00:00:00Z', '99999-12-31T00:00:00Z', '2026-13-45T25:61:00Z', '2026-01-01T00:00:00', 'yesterday', 12, true, null, { a: 1 }]) },
      }),
      key: keyA,
    };
    case 8: return {
      body: json(createMutation('createFaceswapV4Job', 'CreateFaceswapV4JobInput'), {
        input: { ...MODEL_CASES[0].input, ...pick([
          { seed: 'x'.repeat(n(1, 100_000)) },
          { seed: Number.MAX_SAFE_INTEGER * 4 },
          { imageQuality: -1 },
          { sourceImage: 'data:image/png;base64,' + 'A'.repeat(n(10, 200_000)) },
          { sourceImage: 'https://user:pass@example.com/a.jpg' },
          { targetImage: 'file:///etc/passwd' },
          { targetImage: { nested: [1, 2, 3] } },
          { unknownField: 1 },
          { swapType: 'EVERYTHING' },
        ]) },
      }),
      key: keyA,
    };
    case 9: return { body: Buffer.from([0x7b, 0x22, 0x71, 0x22, 0x3a, 0x22, 0xff, 0xfe, 0xc3, 0x28, 0x22, 0x7d]), key: keyA };
    case 10: return { body: pick(['', '{', 'null', '[]', '"query"', '{"query": 5}', '{"query": "{ jobs { edges', '{"query":"{}","variables":"x"}']), key: keyA };
    case 11: return { body: json(`{ ${'jobs { '.repeat(n(50, 400))}`), key: keyA };
    case 12: return { body: json(`query { jobs(first: ${pick([-1, 0, 101, 1e9, 2 ** 53])}) { edges { node { id } } } }`), key: keyA };
    case 13: return { body: json('{ jobs(first: 1) { edges { node { id } } } }'), key: pick([null, 'sy_' + 'x'.repeat(40), 'Bearer', '']) };
    case 14: return { body: 'x'.repeat(n(1_000, 200_000)), key: null };
    case 15: return { body: json(`query($v: String) { __typename }`, { v: 'x'.repeat(n(1_000, 500_000)) }), key: keyA };
    default: return { body: json(`{ node(id: ${JSON.stringify(pick([jobOfB, 'bm9wZQ==', '', '!!!', 'Sm9iOjE='])) }) { id } }`), key: keyA, contentType: pick(['application/json', 'text/plain', 'application/graphql-response+json']) };
  }
}

function expectClean(status: number, text: string, what: string): void {
  expect(status === 503 || status < 500, `${what}: HTTP ${status} ${text.slice(0, 300)}`).toBe(true);
  for (const leak of LEAKS) expect(leak.test(text), `${what}: ${leak} in ${text.slice(0, 500)}`).toBe(false);
  if (status === 503) expect(text).toContain('SERVICE_UNAVAILABLE');
}

describe('hostile operations (seeded fuzz)', () => {
  it(`over HTTP (seed ${SEED}): the process lives, no 5xx, no internals, nothing stored, memory back within 50 MB`, async () => {
    const rand = seededRandom(SEED);
    const before = await counts();
    const rssBefore = await rssOf(api.pid!);
    let next = 0;
    const statuses: Record<number, number> = {};
    await Promise.all(Array.from({ length: 6 }, async () => {
      while (next < HTTP_REQUESTS) {
        const i = next++;
        const op = hostileHttp(rand);
        const res = await post(op.body, op.key, op.contentType);
        statuses[res.status] = (statuses[res.status] ?? 0) + 1;
        expectClean(res.status, res.text, `request ${i}`);
      }
    }));
    expect(api.exitCode).toBeNull();
    expect(await counts()).toEqual(before);
    // Memory is handed back once the answers are gone (a GC may lag: wait for it, within reason).
    let rss = 0;
    await waitUntil(async () => (rss = await rssOf(api.pid!)) - rssBefore < 50 * 1024 * 1024,
      () => `RSS ${Math.round(rss / 2 ** 20)} MB after, ${Math.round(rssBefore / 2 ** 20)} MB before`, { everyMs: 500 });
    console.log(`fuzz over HTTP: ${HTTP_REQUESTS} requests, statuses ${JSON.stringify(statuses)}, RSS ${Math.round(rssBefore / 2 ** 20)} → ${Math.round(rss / 2 ** 20)} MB`);
  });

  it(`over graphql-ws (seed ${SEED}): bad frames and operations are refused per message; the process lives`, async () => {
    const rand = seededRandom(SEED + 1);
    const before = await counts();
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
    const wsUrl = `${url.replace('http', 'ws')}/graphql`;
    const frames = (i: number): string[] => [
      JSON.stringify({ id: `s${i}`, type: 'subscribe', payload: { query: '{ hello' } }),
      JSON.stringify({ id: `s${i}`, type: 'subscribe', payload: { query: `subscription { ${Array.from({ length: 2000 }, (_, k) => `a${k}: jobsUpdated { status }`).join(' ')} }` } }),
      JSON.stringify({ id: `s${i}`, type: 'subscribe', payload: { query: `subscription { jobsUpdated { job { ${'... on SwapJob { events { job { '.repeat(10)}id${' } } }'.repeat(10)} } } }` } }),
      JSON.stringify({ id: `s${i}`, type: 'subscribe', payload: { query: 'subscription($id: ID!) { jobUpdated(id: $id) { status } }', variables: { id: jobOfB } } }),
      JSON.stringify({ id: `s${i}`, type: 'subscribe', payload: { query: 'subscription($id: ID!) { jobUpdated(id: $id) { status } }', variables: { id: 12 } } }),
      JSON.stringify({ id: `s${i}`, type: 'subscribe', payload: { query: 'subscription { jobsUpdated(since: "-1") { status } }' } }),
      JSON.stringify({ id: `s${i}`, type: 'subscribe', payload: { query: 'subscription { jobsUpdated(since: "99999999999999999999999") { status } }' } }),
      JSON.stringify({ id: `s${i}`, type: 'subscribe', payload: { query: `mutation { createFaceswapV4Job(input: { sourceImage: "x", targetImage: "y" }) { __typename } }` } }),
      JSON.stringify({ id: `s${i}`, type: 'subscribe', payload: { query: 'x'.repeat(100_000) } }),
    ];
    const texts: string[] = [];
    await Promise.all(Array.from({ length: WS_SOCKETS }, async (_, s) => {
      const ws = new WebSocket(wsUrl, 'graphql-transport-ws');
      const closed = new Promise<{ code: number; reason: string }>((resolve) => ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() })));
      ws.on('message', (d) => texts.push(String(d)));
      await new Promise<void>((resolve, reject) => { ws.once('open', () => resolve()); ws.once('error', reject); });
      ws.send(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${s % 5 === 0 ? 'not-a-key' : keyA}` } }));
      for (let m = 0; m < WS_MESSAGES_PER_SOCKET && ws.readyState === WebSocket.OPEN; m++) {
        const choice = pick(['frame', 'frame', 'frame', 'garbage', 'bytes']);
        if (choice === 'frame') ws.send(pick(frames(s * 100 + m)));
        else if (choice === 'garbage') ws.send(pick(['{', 'null', '{"type":"nope"}', '{"type":"subscribe"}', '{"id":1,"type":"subscribe","payload":null}']));
        else ws.send(Buffer.from([0xff, 0xfe, 0x00, 0xc3, 0x28]));
      }
      ws.close();
      const { reason } = await closed;
      texts.push(reason);
    }));
    for (const [i, text] of texts.entries()) for (const leak of LEAKS) expect(leak.test(text), `ws text ${i}: ${leak} in ${text.slice(0, 500)}`).toBe(false);
    expect(api.exitCode).toBeNull();
    expect(await counts()).toEqual(before);
    // Still serving after all that (once the key's request rate, spent above, has a window free).
    let alive = { status: 0, text: '' };
    await waitUntil(async () => (alive = await post(JSON.stringify({ query: '{ __typename }' }), keyA)).status !== 429, () => 'still rate-limited');
    expect(alive.status).toBe(200);
  });
});
