import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type pg from 'pg';
import type { UpstreamConfig, WorkerConfig, LabellingConfig } from '../../src/config.js';
import { connectDb } from '../../src/db/client.js';
import { limitedProvider } from '../../src/services/providers/index.js';
import { fingerprint } from '../../src/emulator/index.js';
import { loadInputImages } from '../../src/services/input-artifacts.js';
import { createSegmindProvider, wireBody } from '../../src/services/providers/segmind.js';
import type { UpstreamProvider } from '../../src/services/providers/types.js';
import { Worker } from '../../src/services/worker.js';
import { FAST_ENV, type TestApp } from './app.js';
import { createMutation, inputTypeOf } from './fixtures.js';
import { PATIENCE_MS, PROCESS_START_MS, waitUntil } from './wait.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

export type SpawnedProcess = ChildProcess & { output: () => string; ready: RegExpMatchArray };

/** Node with `args` in the repository root; resolves once its stdout matches `ready`, rejects if it exits first. */
export async function spawnNode(args: string[], env: Record<string, string>, ready: RegExp, timeoutMs = PROCESS_START_MS): Promise<SpawnedProcess> {
  // At info, so the start-up lines `ready` waits for are logged whatever LOG_LEVEL the test process has.
  const child = spawn(process.execPath, args, { cwd: ROOT, env: { ...process.env, LOG_LEVEL: 'info', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.on('data', (d) => (output += d));
  child.stderr!.on('data', (d) => (output += d));
  const match = await new Promise<RegExpMatchArray>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${args.join(' ')} did not start within ${timeoutMs} ms:\n${output}`)), timeoutMs);
    child.stdout!.on('data', () => {
      const m = ready.exec(output);
      if (m) {
        clearTimeout(timer);
        resolve(m);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${args.join(' ')} exited with ${code}:\n${output}`));
    });
  });
  return Object.assign(child, { output: () => output, ready: match });
}

/** `npm run worker` in a separate OS process, wired to the test app's database, emulator and artifact folder. */
export function spawnWorker(t: TestApp, env: Record<string, string> = {}): Promise<SpawnedProcess> {
  return spawnNode(['--import', 'tsx', 'src/worker-main.ts'], {
    ...FAST_ENV,
    DATABASE_URL: t.databaseUrl,
    SEGMIND_BASE_URL: t.emulator.url,
    SWAPYARD_DATA_DIR: t.config.dataDir,
    ...env,
  }, /running/);
}

export async function stopProcess(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill(signal);
  await exited;
}

// ---- helpers for tests that drive workers and watch jobs in the database ----

/** The database id of a job from its global id (base64 of "<Type>:<uuid>"). */
export function jobUuid(globalId: string): string {
  return Buffer.from(globalId, 'base64').toString('utf8').split(':')[1]!;
}

/** Creates jobs through the GraphQL API, `parallel` at a time; returns their database ids in order (global ids alongside). */
export async function createJobs(
  t: TestApp,
  jobs: Array<{ mutation: string; input: Record<string, unknown> }>,
  parallel = 16,
): Promise<string[] & { globalIds: string[] }> {
  const ids = Object.assign(new Array<string>(jobs.length), { globalIds: new Array<string>(jobs.length) });
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(parallel, jobs.length) }, async () => {
      while (next < jobs.length) {
        const i = next++;
        const { mutation, input } = jobs[i]!;
        const res = await t.gql(createMutation(mutation, inputTypeOf(mutation)), { input });
        const id = res.data?.result?.id;
        if (!id) throw new Error(`could not create ${mutation}: ${JSON.stringify(res)}`);
        ids[i] = jobUuid(id);
        ids.globalIds[i] = id;
      }
    }),
  );
  return ids;
}

export interface JobRow {
  id: string;
  model: string;
  status: string;
  params: Record<string, unknown>;
  upstream_request_id: string | null;
  upstream_status: string | null;
  error_code: string | null;
  error_message: string | null;
  attempts: number;
  result: Record<string, unknown> | null;
}

export async function jobRows(pool: pg.Pool, ids: string[]): Promise<JobRow[]> {
  const { rows } = await pool.query<JobRow>(
    `SELECT id, model, status::text AS status, params, upstream_request_id, upstream_status, error_code, error_message, attempts, result
     FROM jobs WHERE id = ANY($1::uuid[]) ORDER BY array_position($1::uuid[], id)`,
    [ids],
  );
  return rows;
}

/**
 * The emulator's fingerprint of what the Segmind provider sends for each row:
 * its params with every stored image as base64 of its bytes (the artifact
 * store of `t`), by job id.
 */
export async function sentFingerprints(t: TestApp, rows: Array<Pick<JobRow, 'id' | 'params'>>): Promise<Map<string, string>> {
  const store = t.app.artifacts;
  return new Map(await Promise.all(rows.map(async (r) => {
    const images = await loadInputImages(r.params, store);
    return [r.id, fingerprint(wireBody({ params: r.params, images } as never))] as const;
  })));
}

/** Waits until every job is COMPLETED, FAILED or CANCELED; returns their rows. */
export async function waitForFinalRows(pool: pg.Pool, ids: string[], timeoutMs = PATIENCE_MS): Promise<JobRow[]> {
  let last: JobRow[] = [];
  return waitUntil(
    async () => {
      last = await jobRows(pool, ids);
      return last.every((r) => ['COMPLETED', 'FAILED', 'CANCELED'].includes(r.status)) ? last : undefined;
    },
    () => {
      const live = last.filter((r) => !['COMPLETED', 'FAILED', 'CANCELED'].includes(r.status));
      return `${live.length}/${ids.length} jobs not final, e.g. ${JSON.stringify(live.slice(0, 3).map((r) => ({ ...r, params: undefined, result: undefined })))}`;
    },
    { timeoutMs, everyMs: 100 },
  );
}

export interface InProcessWorker {
  worker: Worker;
  stop(): Promise<void>;
}

/**
 * A worker in this process, with its own pool, against `baseUrl` (default the
 * test app's emulator), behind the upstream limits, with test overrides.
 */
export async function startWorker(
  t: TestApp,
  opts: {
    worker?: Partial<WorkerConfig>;
    upstream?: Partial<UpstreamConfig>;
    baseUrl?: string;
    apiKey?: string;
    log?: (line: string) => void;
    /** Used as it is instead of the emulator's Segmind provider behind the upstream limits. */
    provider?: UpstreamProvider;
    /** Instead of the test app's synthetic-media labelling. */
    labelling?: LabellingConfig;
  } = {},
): Promise<InProcessWorker> {
  const upstream = { ...t.config.upstream, ...opts.upstream };
  const db = connectDb(t.databaseUrl, { max: 20 });
  const provider = createSegmindProvider({
    baseUrl: opts.baseUrl ?? t.emulator.url,
    apiKey: opts.apiKey ?? t.emulator.apiKey,
    requestTimeoutMs: upstream.requestTimeoutMs,
    pollTimeoutMs: upstream.callTimeoutMs,
    visibilityGraceMs: upstream.visibilityGraceMs,
  });
  const worker = new Worker({
    databaseUrl: t.databaseUrl,
    pool: db.pool,
    readCredits: upstream.creditReadings,
    creditReadingIntervalMs: upstream.creditReadingIntervalMs,
    provider: opts.provider ?? limitedProvider(provider, db.pool, { upstream }),
    // The app's own store: the same folder, database table or bucket.
    artifacts: t.app.artifacts,
    config: { ...t.config.worker, ...opts.worker },
    labelling: opts.labelling ?? t.config.labelling,
    log: opts.log ?? (() => {}),
  });
  await worker.start();
  return {
    worker,
    async stop() {
      await worker.stop();
      await db.close();
    },
  };
}
