// Issue 15, item 1: the service's log is JSON lines (pino) with one line per
// request, job transition, upstream call and webhook attempt, and no secret or
// image byte in it. A real run: `src/main.ts` as its own process at
// LOG_LEVEL=trace, the Segmind emulator demanding its own key, jobs sent with
// inline base64 images, a signed webhook delivered, a request with a wrong
// key. Everything the process wrote to stdout and stderr is then searched.
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator, type Emulator } from '../src/emulator/index.js';
import { createApiKey } from '../src/services/api-keys.js';
import { createTestDatabase } from './support/db.js';
import { FAST_CADENCES, NO_KEY_LIMITS } from './support/fast-env.js';
import { jobUuid, spawnNode, stopProcess, type SpawnedProcess } from './support/processes.js';
import { waitUntil } from './support/wait.js';

const UPSTREAM_KEY = `SG_upstream_${randomBytes(12).toString('hex')}`;
const WRONG_KEY = `sy_${randomBytes(32).toString('base64url')}`;

let emulator: Emulator;
let api: SpawnedProcess;
let receiver: Server;
let receiverUrl: string;
const received: string[] = [];
let dataDir: string;
let pool: pg.Pool;
let url: string;
let adminKey: string;
let otherKey: string;

async function gql(query: string, variables: Record<string, unknown> = {}, key: string = adminKey): Promise<{ status: number; body: any }> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
    body: JSON.stringify({ query, variables }),
  });
  return { status: res.status, body: await res.json() };
}

/** A PNG of noise, so its base64 is long and found nowhere else. */
async function noisePng(seed: number): Promise<Buffer> {
  const raw = Buffer.alloc(24 * 24 * 3);
  for (let i = 0; i < raw.length; i++) raw[i] = (i * 31 + seed * 97 + ((i * seed) % 251)) & 0xff;
  return sharp(raw, { raw: { width: 24, height: 24, channels: 3 } }).png({ compressionLevel: 0 }).toBuffer();
}

function logLines(): Array<Record<string, any>> {
  return api.output().split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l));
}

describe('logs of a real run', () => {
  beforeAll(async () => {
    const databaseUrl = await createTestDatabase({ empty: true });
    emulator = await startEmulator({ apiKey: UPSTREAM_KEY, latencyMs: { sync: 5, queueStep: 30, workflowStep: 30 } });
    receiver = createServer((req, res) => {
      let body = '';
      req.on('data', (d) => (body += d));
      req.on('end', () => {
        received.push(body);
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
    receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hooks?token=receiver-own-token`;
    dataDir = await mkdtemp(join(tmpdir(), 'swapyard-logs-'));
    api = await spawnNode(['--import', 'tsx', 'src/main.ts'], {
      ...FAST_CADENCES,
      ...NO_KEY_LIMITS,
      DATABASE_URL: databaseUrl,
      SEGMIND_API_KEY: UPSTREAM_KEY,
      SEGMIND_BASE_URL: emulator.url,
      SWAPYARD_DATA_DIR: dataDir,
      SWAPYARD_PROVIDER: 'segmind',
      WEBHOOK_ALLOW_PRIVATE: 'true',
      PORT: '0',
      LOG_LEVEL: 'trace',
    }, /Swapyard GraphQL API: (http:\/\/\S+\/graphql)/);
    url = api.ready[1]!;
    adminKey = (await readFile(join(dataDir, 'api-key'), 'utf8')).trim();
    pool = new pg.Pool({ connectionString: databaseUrl, max: 2 });
    otherKey = (await createApiKey(pool, 'logs-other')).secret;
  });

  afterAll(async () => {
    if (api) await stopProcess(api);
    await pool?.end();
    await emulator?.close();
    await new Promise((r) => receiver?.close(r));
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  it('are JSON lines, one per request, transition, upstream call and webhook attempt, with no secret or image byte', async () => {
    const hook = await gql(`mutation Hook($input: CreateWebhookEndpointInput!) { r: createWebhookEndpoint(input: $input) {
      __typename ... on WebhookEndpointCreated { secret } } }`, { input: { url: receiverUrl, statuses: ['COMPLETED'] } });
    const webhookSecret: string = hook.body.data.r.secret;
    expect(webhookSecret).toMatch(/^whsec_/);

    const [source, target, other] = await Promise.all([noisePng(1), noisePng(2), noisePng(3)]);
    const images = [source, target, other].map((b) => b.toString('base64'));
    const v4 = await gql(`mutation CreateSwap($input: CreateFaceswapV4JobInput!) { r: createFaceswapV4Job(input: $input) { ... on FaceswapV4Job { id } } }`, {
      input: { sourceImage: `data:image/png;base64,${images[0]}`, targetImage: images[1], provider: 'SEGMIND' },
    });
    const v2 = await gql(`mutation CreateQueued($input: CreateFaceswapV2JobInput!) { r: createFaceswapV2Job(input: $input) { ... on FaceswapV2Job { id } } }`, {
      input: { sourceImage: images[2], targetImage: `data:image/png;base64,${images[1]}` },
    }, otherKey);
    const body = await gql(`mutation CreateBody { r: createBodySwapJob(input: {}) { ... on BodySwapJob { id } } }`);
    const ids = [v4, v2, body].map((r) => r.body.data.r.id as string);
    const refused = await gql(`query Refused { jobs(first: 1) { edges { node { id } } } }`, {}, WRONG_KEY);
    expect(refused.status).toBe(401);

    for (const [id, key] of [[ids[0], adminKey], [ids[1], otherKey], [ids[2], adminKey]] as const) {
      await waitUntil(async () => (await gql(`query Status($id: ID!) { job(id: $id) { status } }`, { id }, key)).body.data?.job?.status === 'COMPLETED', () => `job ${id} completed`);
    }
    // The admin key's two jobs completed: two deliveries, each logged after it is recorded.
    await waitUntil(() => logLines().filter((l) => l.msg === 'webhook attempt').length >= 2, () => `two webhook attempts logged:\n${api.output()}`);
    expect(received.length).toBeGreaterThanOrEqual(2);

    const lines = logLines(); // every line parses as JSON: nothing else is written to stdout or stderr
    const keyIds = Object.fromEntries((await pool.query<{ id: string; name: string }>('SELECT id, name FROM api_keys')).rows.map((r) => [r.name, r.id]));

    // One line per request: operation, key id, status, duration.
    const requests = lines.filter((l) => l.msg === 'graphql request');
    expect(requests.find((l) => l.operation === 'CreateSwap')).toMatchObject({ keyId: keyIds.default, status: 200, type: 'mutation' });
    expect(requests.find((l) => l.operation === 'CreateQueued')).toMatchObject({ keyId: keyIds['logs-other'], status: 200 });
    expect(requests.find((l) => l.status === 401)).toMatchObject({ keyId: null });
    for (const r of requests) expect(typeof r.durationMs).toBe('number');

    // One line per transition of each job, with model, provider, from and to.
    const [v4Id, v2Id, bodyId] = ids.map(jobUuid);
    const moves = (jobId: string) => lines.filter((l) => l.msg === 'job transition' && l.jobId === jobId).map((l) => `${JSON.stringify(l.from)}→${l.to}`);
    expect(moves(v4Id!)).toEqual(['null→QUEUED', expect.stringMatching(/QUEUED"?→SUBMITTED/), '"SUBMITTED"→COMPLETED']);
    // The queue model: accepted upstream, then polled to the end (PROCESSING when a poll saw it).
    expect(moves(v2Id!).slice(0, 2)).toEqual(['null→QUEUED', '"QUEUED"→SUBMITTED']);
    expect(moves(v2Id!).at(-1)).toMatch(/^"(SUBMITTED|PROCESSING)"→COMPLETED$/);
    expect(lines.find((l) => l.msg === 'job transition' && l.jobId === v2Id && l.to === 'COMPLETED')).toMatchObject({ model: 'FACESWAP_V2', provider: 'segmind' });

    // One line per upstream call: endpoint template, status, duration, attempt.
    const calls = lines.filter((l) => l.msg === 'upstream call');
    expect(calls.find((l) => l.jobId === v4Id && l.phase === 'submit')).toMatchObject({ endpoint: '/v1/faceswap-v4', status: 200, attempt: 1, model: 'FACESWAP_V4' });
    expect(calls.some((l) => l.jobId === v2Id && l.endpoint === '/v2/requests/:id/status')).toBe(true);
    expect(calls.some((l) => l.jobId === bodyId && l.endpoint === 'poll_url')).toBe(true);
    for (const c of calls) expect(typeof c.durationMs).toBe('number');

    // One line per webhook attempt: the receiver's origin only.
    const attempts = lines.filter((l) => l.msg === 'webhook attempt');
    expect(attempts[0]).toMatchObject({ outcome: 'succeeded', status: 204, attempt: 1, receiver: new URL(receiverUrl).origin });

    // None of the secrets, and no image byte.
    const output = api.output();
    const secrets = {
      adminKey, otherKey, wrongKey: WRONG_KEY, upstreamKey: UPSTREAM_KEY, webhookSecret,
      webhookSecretBytes: webhookSecret.slice('whsec_'.length), receiverToken: 'receiver-own-token',
    };
    for (const [name, secret] of Object.entries(secrets)) expect(output.includes(secret), `${name} is in the log`).toBe(false);
    for (const image of images) {
      expect(output.includes(image.slice(100, 160)), 'image base64 is in the log').toBe(false);
      expect(output.includes(Buffer.from(image, 'base64').toString('base64url').slice(100, 160))).toBe(false);
    }
    expect(output).not.toMatch(/data:image/i);
    expect(output).not.toMatch(/bearer\s+\S{8,}/i);
  });
});

describe('the logger', () => {
  it('redacts secret fields and scrubs error text of keys, tokens, data: URLs and long base64', async () => {
    const { createLogger } = await import('../src/util/logger.js');
    const { Writable } = await import('node:stream');
    let written = '';
    const sink = new Writable({ write(chunk, _enc, done) { written += chunk; done(); } });
    const log = createLogger('info', sink);
    const base64 = (await noisePng(9)).toString('base64');
    const err = new Error(`insert failed: {"sourceImage":"data:image/png;base64,${base64}","key":"${WRONG_KEY}"} Authorization: Bearer ${WRONG_KEY} whsec_${'A'.repeat(32)} raw ${base64}`);
    log.error({ err, authorization: `Bearer ${WRONG_KEY}`, headers: { 'x-api-key': UPSTREAM_KEY }, job: { params: { sourceImage: base64 } } }, 'internal error');
    const line = JSON.parse(written);
    expect(line.authorization).toBe('[redacted]');
    expect(line.headers['x-api-key']).toBe('[redacted]');
    expect(line.job.params).toBe('[redacted]');
    expect(line.err.message).toContain('insert failed');
    for (const secret of [WRONG_KEY, UPSTREAM_KEY, 'A'.repeat(32), base64.slice(100, 160)]) expect(written).not.toContain(secret);
    expect(written).not.toMatch(/data:image/);
  });

  it('a process that logs and exits at once loses no line: stdout is written asynchronously and flushed at exit', async () => {
    const { execFile } = await import('node:child_process');
    const script = `import { componentLogger } from './src/util/logger.ts';
const log = componentLogger('exit-test');
for (let i = 0; i < 5000; i++) log.info({ i }, 'line');
process.exit(0);`;
    const stdout = await new Promise<string>((resolve, reject) => {
      execFile(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
        cwd: new URL('..', import.meta.url).pathname, env: { ...process.env, LOG_LEVEL: 'info', LOG_FORMAT: 'json' }, maxBuffer: 64 * 1024 * 1024,
      }, (err, out) => (err ? reject(err) : resolve(out)));
    });
    const lines = stdout.trim().split('\n').map((l) => JSON.parse(l));
    expect(lines).toHaveLength(5000);
    expect(lines.map((l) => l.i)).toEqual(Array.from({ length: 5000 }, (_, i) => i));
  });

  it('censors secret fields down to two levels, in arrays and child bindings too, without changing the caller\'s objects', async () => {
    const { childLogger, createLogger } = await import('../src/util/logger.js');
    const { Writable } = await import('node:stream');
    const lines: any[] = [];
    const sink = new Writable({ write(chunk, _enc, done) { lines.push(JSON.parse(String(chunk))); done(); } });
    const fields = { jobId: 'j1', request: { body: 'secret body', headers: { authorization: 'Bearer x' } }, list: [{ token: 't' }], when: new Date(0) };
    const copy = structuredClone(fields);
    childLogger(createLogger('info', sink), { component: 'c', apiKey: 'sy_shhh' }).info(fields, 'line');
    const line = lines[0];
    expect(line).toMatchObject({ component: 'c', apiKey: '[redacted]', jobId: 'j1', msg: 'line', when: new Date(0).toISOString() });
    expect(line.request.body).toBe('[redacted]');
    expect(line.request.headers.authorization).toBe('[redacted]');
    expect(line.list[0].token).toBe('[redacted]');
    expect(fields).toEqual(copy);
  });
});
