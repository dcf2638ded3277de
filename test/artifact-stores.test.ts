// Artifact stores shared across hosts (issue 17, item 3). The API and a worker
// in separate processes with separate data folders (so no shared filesystem)
// run a job end to end through the emulator with ARTIFACT_STORE=postgres and
// =s3, and its output and input download through the API. The move command
// runs as a real child process. An S3 store that is missing or unreachable
// stops the service at start with a typed message; one that goes away later
// is a 503 that names nothing internal.
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtemp, readdir, rm, writeFile, mkdir } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApp } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import { ArtifactStoreUnavailable } from '../src/services/artifact-store-unavailable.js';
import { openArtifactStore } from '../src/services/artifact-stores.js';
import type { ArtifactStore, OutputReceipt } from '../src/services/artifacts.js';
import { LocalArtifactStore } from '../src/services/artifacts.js';
import { providerFromConfig } from '../src/services/providers/index.js';
import { FAST_ENV, startTestApp, waitForFinal, type TestApp } from './support/app.js';
import { S3_CREDENTIALS, startS3Server, storeEnv, type S3Server } from './support/artifact-stores.js';
import { createTestDatabase } from './support/db.js';
import { createMutation, sha256, SOURCE_URL, TINY_PNG_BASE64 } from './support/fixtures.js';
import { spawnWorker, stopProcess, type SpawnedProcess } from './support/processes.js';
import { PROCESS_START_MS } from './support/wait.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const CREATE = createMutation('createFaceswapV4Job', 'CreateFaceswapV4JobInput');
const OUTPUT = `query($id: ID!) { job(id: $id) { status output { url sha256 bytes upstreamSha256 } ... on FaceswapV4Job { sourceImage { url sha256 } } } }`;

let s3: S3Server;
beforeAll(async () => {
  s3 = await startS3Server();
});
afterAll(async () => {
  await s3?.close();
});

async function download(url: string, key: string): Promise<{ status: number; sha: string; body: Buffer }> {
  const res = await fetch(url, { headers: { authorization: `Bearer ${key}` } });
  const body = Buffer.from(await res.arrayBuffer());
  return { status: res.status, sha: sha256(body), body };
}

describe.each(['postgres', 's3'] as const)('API and worker on different hosts, ARTIFACT_STORE=%s', (kind) => {
  let t: TestApp;
  let worker: SpawnedProcess | undefined;
  let workerDir: string;
  let env: Record<string, string>;

  beforeAll(async () => {
    env = await storeEnv(kind, s3);
    t = await startTestApp({ worker: false, env });
    // Its own data folder: nothing on disk is shared with the API.
    workerDir = await mkdtemp(join(tmpdir(), 'swapyard-worker-host-'));
    worker = await spawnWorker(t, { ...env, SWAPYARD_DATA_DIR: workerDir });
  }, PROCESS_START_MS);
  afterAll(async () => {
    if (worker) await stopProcess(worker);
    await t?.close();
    await rm(workerDir, { recursive: true, force: true });
  });

  it('a job runs on the worker, and its output and inline input download through the API', async () => {
    const res = await t.gql(CREATE, { input: { sourceImage: TINY_PNG_BASE64, targetImage: SOURCE_URL, seed: 5 } });
    const id = res.data.result.id;
    expect(await waitForFinal(t, id)).toMatchObject({ status: 'COMPLETED' });
    const job = (await t.gql(OUTPUT, { id })).data.job;
    const output = await download(job.output.url, t.key);
    expect(output).toMatchObject({ status: 200, sha: job.output.sha256 });
    expect(output.body.length).toBe(job.output.bytes);
    const input = await download(job.sourceImage.url, t.key);
    expect(input).toMatchObject({ status: 200, sha: sha256(Buffer.from(TINY_PNG_BASE64, 'base64')) });
    // Neither process wrote an artifact to its own folder.
    for (const dir of [t.config.dataDir, workerDir]) {
      expect(await readdir(join(dir, 'artifacts')).catch(() => [])).toEqual([]);
    }
    // The upstream's bytes are stored; the labelled bytes served are made from them on each read.
    const keys = await collect(t.app.artifacts.keys());
    expect(keys).toContain(`${job.output.upstreamSha256}.png`);
    // The dashboard's thumbnails are made from the shared store and kept in it.
    for (const image of ['output', 'sourceImage']) {
      const thumb = await fetch(`${t.url}/thumbnails/${encodeURIComponent(id)}/${image}`, { headers: { authorization: `Bearer ${t.key}` } });
      expect({ image, status: thumb.status, type: thumb.headers.get('content-type') }).toMatchObject({ status: 200, type: expect.stringMatching(/^image\//) });
      const thumbSha = sha256(Buffer.from(await thumb.arrayBuffer()));
      expect(await collect(t.app.artifacts.keys())).toContainEqual(expect.stringMatching(new RegExp(`^${thumbSha}\\.`)));
    }
  });
});

async function collect(items: AsyncIterable<string>): Promise<string[]> {
  const out: string[] = [];
  for await (const item of items) out.push(item);
  return out;
}

/** Runs the move command to its end; its exit code and output. */
function runMove(args: string[], env: Record<string, string>): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/move-artifacts.ts', ...args], {
      cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    child.once('exit', (code) => resolve({ code, output }));
  });
}

describe('npm run artifacts:move', () => {
  let dataDir: string;
  let env: Record<string, string>;
  const opened: ArtifactStore[] = [];
  const blobs = [Buffer.from('first artifact'), Buffer.from('second artifact'), Buffer.from('third artifact')];
  let keys: string[];
  // An output receipt (a job whose completion was not recorded yet) moves with its artifact;
  // one whose artifact is gone has nothing to complete its job with and stays behind.
  const receiptJob = randomUUID();
  const orphanJob = randomUUID();
  let receipt: OutputReceipt;

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'swapyard-move-'));
    env = { DATABASE_URL: await createTestDatabase(), SWAPYARD_DATA_DIR: dataDir, ...(await storeEnv('s3', s3)) };
    env.ARTIFACT_STORE = 'local';
    const local = new LocalArtifactStore(join(dataDir, 'artifacts'));
    const stored = await Promise.all(blobs.map((b) => local.put(b, 'image/png')));
    keys = stored.map((s) => s.key);
    receipt = { artifact: stored[0]!, upstream: { status: 'COMPLETED', note: 'moved along' } };
    await local.putReceipt(receiptJob, receipt);
    await local.putReceipt(orphanJob, { artifact: { ...stored[0]!, key: `${'e'.repeat(64)}.png` }, upstream: null });
  });
  afterAll(async () => {
    for (const store of opened) await store.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  const open = async (kind: 'local' | 'postgres' | 's3', dir = dataDir) => {
    const store = await openArtifactStore(loadConfig({ ...env, SWAPYARD_DATA_DIR: dir }), env.DATABASE_URL!, kind);
    opened.push(store);
    return store;
  };

  it('copies the configured store into another, verified; a damaged source artifact is reported and fails the run', async () => {
    // A file under a valid key whose bytes are not that key's.
    const damaged = `${sha256(Buffer.from('what it should have been'))}.png`;
    await mkdir(join(dataDir, 'artifacts', damaged.slice(0, 2)), { recursive: true });
    await writeFile(join(dataDir, 'artifacts', damaged.slice(0, 2), damaged), 'something else');
    // A receipt naming it cannot move either: its job would complete with bytes that are not its output.
    const damagedJob = randomUUID();
    const local = new LocalArtifactStore(join(dataDir, 'artifacts'));
    await local.putReceipt(damagedJob, { artifact: { ...receipt.artifact, key: damaged }, upstream: null });
    const first = await runMove(['--to', 'postgres'], env);
    expect(first.output).toContain('local → postgres: 4 listed, 3 copied, 0 already there, 2 failed; 1 output receipt(s) moved');
    expect(first.output).toContain(`failed ${damaged}: damaged in the source`);
    expect(first.output).toContain(`failed receipt ${damagedJob}: its artifact ${damaged} is not in the destination`);
    expect(first.code).toBe(1);
    const postgres = await open('postgres');
    for (const [i, key] of keys.entries()) expect((await postgres.read(key))!.equals(blobs[i]!)).toBe(true);
    expect(await postgres.read(damaged)).toBeNull();
    expect(await postgres.readReceipt(receiptJob)).toEqual(receipt);
    expect(await collect(postgres.receipts())).toEqual([receiptJob]);

    expect(await postgres.readReceipt(damagedJob)).toBeNull();
    await rm(join(dataDir, 'artifacts', damaged.slice(0, 2), damaged));
    const again = await runMove(['--to', 'postgres'], env);
    expect(again.output).toContain('local → postgres: 3 listed, 0 copied, 3 already there, 0 failed; 1 output receipt(s) moved');
    expect(again.code).toBe(0);
    // Run again, nothing doubles.
    const postgresKeys = await collect(postgres.keys());
    expect(postgresKeys.sort()).toEqual([...keys].sort());
    expect(await collect(postgres.receipts())).toEqual([receiptJob]);
  }, PROCESS_START_MS);

  it('moves between any two stores with --from/--to, and --delete-source empties the source', async () => {
    const toS3 = await runMove(['--from', 'postgres', '--to', 's3'], env);
    expect(toS3.output).toContain('postgres → s3: 3 listed, 3 copied, 0 already there, 0 failed; 1 output receipt(s) moved');
    expect(toS3.code).toBe(0);

    const elsewhere = await mkdtemp(join(tmpdir(), 'swapyard-move-back-'));
    try {
      const back = await runMove(['--from', 's3', '--to', 'local', '--delete-source'], { ...env, SWAPYARD_DATA_DIR: elsewhere });
      expect(back.output).toContain('s3 → local: 3 listed, 3 copied, 0 already there, 0 failed, 3 deleted from s3; 1 output receipt(s) moved');
      expect(back.code).toBe(0);
      const local = await open('local', elsewhere);
      for (const [i, key] of keys.entries()) expect((await local.read(key))!.equals(blobs[i]!)).toBe(true);
      expect(await local.readReceipt(receiptJob)).toEqual(receipt);
      const s3Store = await open('s3');
      expect(await collect(s3Store.keys())).toEqual([]);
      expect(await collect(s3Store.receipts())).toEqual([]);
    } finally {
      await rm(elsewhere, { recursive: true, force: true });
    }
  }, PROCESS_START_MS);

  it('refuses bad arguments with usage (exit 2) and a store it cannot use with its message (exit 1), changing nothing', async () => {
    const postgres = await open('postgres');
    const before = (await collect(postgres.keys())).sort();
    const { S3_BUCKET: _bucket, ...noS3 } = env;
    const cases: Array<[string[], Record<string, string>, number, string]> = [
      [[], env, 2, '--to is required'],
      [['--to', 'local'], env, 2, '--from and --to are both local: nothing to move'],
      [['--to', 'tape'], env, 2, '--to must be one of local, postgres, s3, got "tape"'],
      [['--from', 'nfs', '--to', 'local'], env, 2, '--from must be one of local, postgres, s3, got "nfs"'],
      [['--to', 'postgres', '--force'], env, 2, "Unknown option '--force'"],
      [['--to', 'postgres', '--concurrency', '0'], env, 2, '--concurrency must be an integer from 1 to 64, got "0"'],
      [['--to', 's3'], noS3, 2, 'the s3 store needs S3_BUCKET'],
      [['--to', 'postgres'], { ...env, ARTIFACT_STORE: 'tape' }, 1, 'ARTIFACT_STORE must be one of local, postgres, s3, got "tape"'],
      [['--to', 's3'], { ...env, S3_BUCKET: 'no-such-bucket' }, 1, 'bucket "no-such-bucket" does not exist (S3_BUCKET)'],
    ];
    // Three at a time: each is a tsx process compiling the command.
    const results: Array<{ code: number | null; output: string }> = [];
    for (let i = 0; i < cases.length; i += 3) {
      results.push(...(await Promise.all(cases.slice(i, i + 3).map(([args, e]) => runMove(args, e)))));
    }
    for (const [i, [args, , code, message]] of cases.entries()) {
      const { output } = results[i]!;
      expect({ args, code: results[i]!.code, output }).toMatchObject({ code, output: expect.stringContaining(message) });
      if (code === 2) expect(output, args.join(' ')).toContain('usage: npm run artifacts:move -- --to <local|postgres|s3>');
      expect(output).not.toContain(S3_CREDENTIALS.S3_SECRET_ACCESS_KEY);
      expect(output, args.join(' ')).not.toMatch(/\n\s+at /); // no stack
      expect(output).not.toContain('Moving artifacts');
    }
    expect((await collect(postgres.keys())).sort()).toEqual(before);
    expect(await collect((await open('s3')).keys())).toEqual([]);
  }, PROCESS_START_MS * 3);
});

/** A loopback port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  await new Promise((r) => server.close(r));
  return port;
}

describe('an S3 store that is missing or unreachable', () => {
  const startWith = async (s3env: Record<string, string>) => {
    const dataDir = await mkdtemp(join(tmpdir(), 'swapyard-s3-bad-'));
    try {
      const config = loadConfig({ ...FAST_ENV, SWAPYARD_DATA_DIR: dataDir, SEGMIND_BASE_URL: 'http://127.0.0.1:9', ...s3env });
      const app = await startApp({ config, databaseUrl: await createTestDatabase(), provider: providerFromConfig(config), log: () => {} });
      await app.close();
      return null;
    } catch (err) {
      return err as Error;
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  };

  it('stops the service at start with a typed message naming the bucket or the endpoint, never the credentials', async () => {
    const missing = await startWith(s3.env('no-such-bucket'));
    expect(missing).toBeInstanceOf(ArtifactStoreUnavailable);
    expect(missing!.message).toBe(`S3 artifact store at ${s3.endpoint}: bucket "no-such-bucket" does not exist (S3_BUCKET)`);

    const port = await closedPort();
    const unreachable = await startWith({ ...s3.env('swapyard'), S3_ENDPOINT: `http://127.0.0.1:${port}` });
    expect(unreachable).toBeInstanceOf(ArtifactStoreUnavailable);
    expect(unreachable!.message).toBe(`S3 artifact store at http://127.0.0.1:${port}: cannot use bucket "swapyard": ECONNREFUSED`);
    for (const err of [missing, unreachable]) expect(err!.message).not.toContain(S3_CREDENTIALS.S3_SECRET_ACCESS_KEY);
  });

  it('a worker process started against a missing bucket exits with that message and no stack', async () => {
    const t = await startTestApp({ worker: false });
    try {
      const err = await spawnWorker(t, s3.env('no-such-bucket')).then(() => null, (e: Error) => e);
      expect(err?.message).toContain('exited with 1');
      expect(err?.message).toContain('bucket "no-such-bucket" does not exist (S3_BUCKET)');
      expect(err?.message).not.toMatch(/\n\s+at /);
    } finally {
      await t.close();
    }
  }, PROCESS_START_MS);

  it('gone after start: downloads and creates with inline images are 503 with Retry-After, naming nothing internal', async () => {
    const own = await startS3Server();
    const t = await startTestApp({ env: own.env(await own.bucket()) });
    try {
      const res = await t.gql(CREATE, { input: { sourceImage: TINY_PNG_BASE64, targetImage: SOURCE_URL, seed: 9 } });
      const id = res.data.result.id;
      expect(await waitForFinal(t, id)).toMatchObject({ status: 'COMPLETED' });
      const job = (await t.gql(OUTPUT, { id })).data.job;
      expect((await download(job.output.url, t.key)).status).toBe(200);
      await own.close();

      const port = new URL(own.endpoint).port;
      const thumbnail = `${t.url}/thumbnails/${encodeURIComponent(id)}/sourceImage`;
      for (const url of [job.output.url, job.sourceImage.url, thumbnail]) {
        const gone = await fetch(url, { headers: { authorization: `Bearer ${t.key}` } });
        const body = await gone.text();
        expect(gone.status).toBe(503);
        expect(gone.headers.get('retry-after')).toBe('5');
        expect(JSON.parse(body).errors[0].extensions.code).toBe('SERVICE_UNAVAILABLE');
        expect(body).not.toContain(port);
        expect(body).not.toMatch(/S3|bucket|ECONNREFUSED/);
      }
      const refused = await fetch(`${t.url}/graphql`, {
        method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${t.key}` },
        body: JSON.stringify({ query: CREATE, variables: { input: { sourceImage: TINY_PNG_BASE64, targetImage: SOURCE_URL, seed: 10 } } }),
      });
      const text = await refused.text();
      expect({ status: refused.status, text }).toMatchObject({ status: 503 });
      expect(JSON.parse(text).errors[0]).toMatchObject({ extensions: { code: 'SERVICE_UNAVAILABLE' } });
      expect(text).not.toContain(port);
      expect(text).not.toMatch(/bucket|ECONNREFUSED/);

      // A job whose output arrives now cannot keep it; its error says why, without the store's address.
      // (This model answers synchronously: the send is not repeated, so the job fails rather than waits.)
      const later = (await t.gql(CREATE, { input: { sourceImage: SOURCE_URL, targetImage: SOURCE_URL, seed: 11 } })).data.result.id;
      await waitForFinal(t, later);
      const answer = await t.gql(`query($id: ID!) { job(id: $id) { status failure { code message } } }`, { id: later });
      const failed = JSON.stringify(answer.data.job);
      expect(answer.data.job).toMatchObject({ status: 'FAILED', failure: { code: 'UPSTREAM_OUTCOME_UNKNOWN', message: expect.stringContaining('the artifact store could not be reached') } });
      expect(failed).not.toContain(port);
      expect(failed).not.toMatch(/bucket|ECONNREFUSED/);
    } finally {
      await t.close();
    }
  }, PROCESS_START_MS);
});
