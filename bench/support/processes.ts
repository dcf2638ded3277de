// The service under test runs in its own OS processes, as in production: the
// API (`npm start`'s src/main.ts), workers (src/worker-main.ts) and the Segmind
// emulator (src/emulator/main.ts). The load generator is the bench process, so
// it never shares an event loop with what it measures.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FAST_CADENCES, NO_KEY_LIMITS } from '../../test/support/fast-env.js';
import { hasFlag } from './report.js';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** The worker/API cadences of the test suite, so idle polls do not hide latency. */
export const FAST_ENV: Record<string, string> = FAST_CADENCES;

export interface Proc {
  child: ChildProcess;
  pid: number;
  output(): string;
  /** Resident set size in bytes (VmRSS from /proc). */
  rss(): Promise<number>;
  stop(): Promise<void>;
}

/** Extra node flags for a role, e.g. BENCH_NODE_ARGS_API="--cpu-prof --cpu-prof-dir=prof". */
function nodeArgs(role: string): string[] {
  const raw = process.env[`BENCH_NODE_ARGS_${role.toUpperCase()}`];
  return raw ? raw.split(/\s+/).filter(Boolean) : [];
}

/**
 * The service's processes (API, worker) run as production runs them: the
 * compiled JS of `npm run build`, built once per bench run. Smoke runs (inside
 * `npm test`) run the sources through tsx instead, to keep the suite short;
 * they check that the scripts work, not the figures.
 */
const SERVICE_COMPILED = !hasFlag('smoke');
let built: Promise<void> | null = null;
function buildOnce(): Promise<void> {
  built ??= new Promise<void>((resolve, reject) => {
    const tsc = spawn(process.execPath, [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.build.json'], { cwd: ROOT, stdio: 'inherit' });
    tsc.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`npm run build failed (${code})`))));
  });
  return built;
}

async function entry(file: string, compiled: boolean): Promise<string[]> {
  if (!compiled) return ['--import', 'tsx', file];
  await buildOnce();
  return [join('dist', file.replace(/\.ts$/, '.js'))];
}

export async function spawnTs(role: string, file: string, env: Record<string, string>, ready: RegExp, timeoutMs = 120_000, compiled = false): Promise<Proc & { match: RegExpMatchArray }> {
  const child = spawn(process.execPath, [...nodeArgs(role), ...(await entry(file, compiled))], {
    cwd: ROOT,
    // At info at least: `ready` waits for a start-up log line.
    env: { ...process.env, LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (d) => (output += d));
  child.stderr!.on('data', (d) => (output += d));
  const match = await new Promise<RegExpMatchArray>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${role} did not start within ${timeoutMs} ms:\n${output}`)), timeoutMs);
    const check = () => {
      const m = output.match(ready);
      if (m) {
        clearTimeout(timer);
        child.stdout!.off('data', check);
        resolve(m);
      }
    };
    child.stdout!.on('data', check);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${role} exited with ${code}:\n${output}`));
    });
  });
  return {
    child,
    pid: child.pid!,
    match,
    output: () => output,
    async rss() {
      const status = await readFile(`/proc/${child.pid}/status`, 'utf8');
      const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1]);
      return kb * 1024;
    },
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

export interface Emulator extends Proc {
  url: string;
  stats(): Promise<{ calls: Array<{ at: number; ms?: number; kind: string; fingerprint?: string; status?: number | null }> }>;
  resetStats(): Promise<void>;
}

/** The Segmind emulator, answering instantly (no latency options, all faults cleared). */
export async function startEmulatorProcess(): Promise<Emulator> {
  const p = await spawnTs('emulator', 'src/emulator/main.ts', { EMULATOR_PORT: '0' }, /listening on (http:\/\/\S+)/);
  const url = p.match[1]!;
  await fetch(`${url}/__emulator/faults`, { method: 'DELETE' });
  return {
    ...p,
    url,
    async stats() {
      return (await fetch(`${url}/__emulator/stats`)).json() as never;
    },
    async resetStats() {
      await fetch(`${url}/__emulator/stats`, { method: 'DELETE' });
    },
  };
}

export interface Api extends Proc {
  url: string;
  wsUrl: string;
  /** The first API key, created by the service on its first start. */
  key: string;
  dataDir: string;
}

/**
 * `npm start`'s entry on a bench database, with the worker out of process unless
 * `embeddedWorker`; in a data directory of its own unless `sharedDataDir`. Production cadences unless `fast` (the test suite's FAST_ENV).
 */
export async function startApiProcess(opts: { databaseUrl: string; emulatorUrl: string; embeddedWorker?: boolean; fast?: boolean; env?: Record<string, string>; sharedDataDir?: string }): Promise<Api> {
  // A second API of one deployment shares the first one's data directory (its key file, its outputs); the first removes it.
  const dataDir = opts.sharedDataDir ?? (await mkdtemp(join(tmpdir(), 'swapyard-bench-')));
  const p = await spawnTs(
    'api',
    'src/main.ts',
    {
      ...(opts.fast ? FAST_ENV : {}),
      // The benches load one key far past what the per-key limits allow a client.
      ...NO_KEY_LIMITS,
      PORT: '0',
      DATABASE_URL: opts.databaseUrl,
      SEGMIND_BASE_URL: opts.emulatorUrl,
      // The benches measure the service on top of the (instant) emulator, not the local engine.
      SWAPYARD_PROVIDER: 'segmind',
      SWAPYARD_DATA_DIR: dataDir,
      SWAPYARD_EMBEDDED_WORKER: String(opts.embeddedWorker ?? false),
      ...opts.env,
    },
    /Swapyard GraphQL API: (http:\/\/\S+)\/graphql/,
    undefined,
    SERVICE_COMPILED,
  );
  const key = (await readFile(join(dataDir, 'api-key'), 'utf8')).trim();
  const url = p.match[1]!;
  return {
    ...p,
    url,
    wsUrl: `${url.replace('http', 'ws')}/graphql`,
    key,
    dataDir,
    async stop() {
      await p.stop();
      if (!opts.sharedDataDir) await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/** `npm run worker`'s entry; production cadences unless `fast`. */
export async function startWorkerProcess(opts: { databaseUrl: string; emulatorUrl: string; dataDir: string; fast?: boolean; env?: Record<string, string> }): Promise<Proc> {
  return spawnTs(
    'worker',
    'src/worker-main.ts',
    {
      ...(opts.fast ? FAST_ENV : {}),
      DATABASE_URL: opts.databaseUrl,
      SEGMIND_BASE_URL: opts.emulatorUrl,
      SWAPYARD_DATA_DIR: opts.dataDir,
      // Several workers on one host: each its own free health/metrics port.
      WORKER_PORT: '0',
      ...opts.env,
    },
    /Worker \S+ running/,
    undefined,
    SERVICE_COMPILED,
  );
}
