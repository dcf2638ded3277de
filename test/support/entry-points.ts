// The real entry points (`npm start`, `npm run worker`, the CLIs) as child
// processes on an embedded data directory of their own: no DATABASE_URL, no
// Segmind settings, ports of their own, so they find their database exactly
// as a user's would.
import { spawn, type ChildProcess } from 'node:child_process';
import { chmod, mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PROCESS_START_MS, waitUntil } from './wait.js';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));

export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  await new Promise((r) => server.close(r));
  return port;
}

export interface Installation {
  dataDir: string;
  env: Record<string, string>;
  remove(): Promise<void>;
}

/** A fresh data directory and ports; the environment every entry point of it gets. */
export async function newInstallation(): Promise<Installation> {
  const dir = await mkdtemp(join(tmpdir(), 'swapyard-install-'));
  // As root the embedded server runs as the `postgres` user, which must reach its folder.
  await chmod(dir, 0o755);
  const dataDir = join(dir, 'data');
  const env = {
    SWAPYARD_DATA_DIR: dataDir,
    PORT: String(await freePort()),
    EMBEDDED_PG_PORT: String(await freePort()),
    EMULATOR_PORT: '0',
    SWAPYARD_EMBEDDED_WORKER: 'false',
    // A free port for each worker's health and metrics server: tests run side by side.
    WORKER_PORT: '0',
  };
  return { dataDir, env, remove: () => rm(dir, { recursive: true, force: true }) };
}

/**
 * process.env without what would point an entry point elsewhere than its data directory,
 * and without vitest's NODE_ENV=test: libraries act on it (Apollo installs no signal
 * handlers under test), and a user's `npm start` does not set it.
 */
function baseEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (v !== undefined && !/^(DATABASE_URL|SEGMIND_|SWAPYARD_|EMBEDDED_PG_PORT|EMULATOR_PORT|PORT|HOST|LOG_LEVEL|NODE_ENV|npm_)/.test(k)) env[k] = v;
  }
  return env;
}

export type Entry = ChildProcess & { output: () => string };

/** Runs `node <args>` in the repository root with the installation's environment. */
export function runEntry(args: string[], env: Record<string, string>): Entry {
  // A process group of its own, so stopEntry can find what it left running.
  const child = spawn(process.execPath, args, { cwd: ROOT, env: { ...baseEnv(), ...env }, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let output = '';
  child.stdout!.on('data', (d) => (output += d));
  child.stderr!.on('data', (d) => (output += d));
  return Object.assign(child, { output: () => output });
}

/** `npm run <script> -- args` as npm runs it (npm's own scripts: the command line users type). */
export function runScript(script: string, args: string[], env: Record<string, string>): Entry {
  const npmCli = join(process.execPath, '..', '..', 'lib', 'node_modules', 'npm', 'bin', 'npm-cli.js');
  return runEntry([npmCli, 'run', '-s', script, ...(args.length ? ['--', ...args] : [])], env);
}

export async function exited(child: Entry, timeoutMs = PROCESS_START_MS): Promise<{ code: number | null; output: string }> {
  if (child.exitCode !== null || child.signalCode !== null) return { code: child.exitCode, output: child.output() };
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`still running after ${timeoutMs} ms:\n${child.output()}`)), timeoutMs);
    child.once('exit', (c) => {
      clearTimeout(timer);
      resolve({ code: c, output: child.output() });
    });
  });
}

/** Waits for `ready` in the output; fails if the process exits first. */
export async function readyLine(child: Entry, ready: RegExp, timeoutMs = PROCESS_START_MS): Promise<RegExpMatchArray> {
  return waitUntil(
    () => {
      if (child.exitCode !== null || child.signalCode !== null) throw new Error(`exited (${child.exitCode ?? child.signalCode}) before ${ready}:\n${child.output()}`);
      return ready.exec(child.output()) ?? undefined;
    },
    () => `no ${ready} yet:\n${child.output()}`,
    { timeoutMs, everyMs: 50 },
  );
}

export const API_READY = /Swapyard GraphQL API: (http:\/\/\S+)\/graphql/;

/** `npm start` of the installation (its entry as npm's script runs it, without the tsx wrapper). */
export async function startApi(inst: Installation): Promise<{ child: Entry; url: string }> {
  const child = runEntry(['--import', 'tsx', 'src/main.ts'], inst.env);
  const m = await readyLine(child, API_READY);
  return { child, url: `${m[1]}/graphql` };
}

export async function stopEntry(child: Entry): Promise<void> {
  if (child.exitCode === null && child.signalCode === null) {
    const done = exited(child);
    child.kill('SIGTERM');
    await done;
  }
  await stopGroup(child.pid!);
}

/**
 * Ends what the entry's process group still runs after the entry itself exited:
 * `npm run <script>` passes SIGTERM to its shell, which does not pass it on, so the
 * script's own processes (tsx and node) outlived a stopped `npm run worker`.
 */
async function stopGroup(pgid: number): Promise<void> {
  const alive = () => {
    try {
      process.kill(-pgid, 0);
      return true;
    } catch {
      return false;
    }
  };
  if (!alive()) return;
  process.kill(-pgid, 'SIGTERM');
  await waitUntil(() => (alive() ? undefined : true), () => `process group ${pgid} still running after SIGTERM`, { timeoutMs: PROCESS_START_MS, everyMs: 50 })
    .catch(() => {
      if (alive()) process.kill(-pgid, 'SIGKILL');
    });
}

export async function gqlAs(url: string, key: string, query: string): Promise<any> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` }, body: JSON.stringify({ query }) });
  return res.json();
}

export async function firstKey(inst: Installation): Promise<string> {
  return (await readFile(join(inst.dataDir, 'api-key'), 'utf8')).trim();
}
