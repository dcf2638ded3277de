// Picks the PostgreSQL server for the run and builds one migrated template
// database on it; each test file clones the template (CREATE DATABASE …
// TEMPLATE), which takes milliseconds instead of migrating afresh, and runs
// against its own real database.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import type { TestProject } from 'vitest/node';
import { startEmbeddedPostgres } from '../../src/db/embedded-postgres.js';
import { applyMigrations } from '../../src/db/migrations.js';
import { databaseUrl, TEST_DB_PREFIX } from './db-names.js';

declare module 'vitest' {
  export interface ProvidedContext {
    adminUrl: string;
    templateDatabase: string;
  }
}

const LOCAL_SERVER = 'postgresql://postgres@127.0.0.1:5432/postgres';

async function admin<T>(url: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

async function reachable(url: string): Promise<boolean> {
  return admin(url, async () => true).catch(() => false);
}

/** A machine without PostgreSQL still runs the suite, on an embedded server in a temp folder. */
async function chooseServer(): Promise<{ url: string; stop: () => Promise<void> }> {
  const explicit = process.env.TEST_DATABASE_ADMIN_URL;
  if (explicit) return { url: explicit, stop: async () => {} };
  if (await reachable(LOCAL_SERVER)) return { url: LOCAL_SERVER, stop: async () => {} };
  const dir = await mkdtemp(join(tmpdir(), 'swapyard-test-pg-'));
  const port = 55_000 + Math.floor(Math.random() * 5000);
  const embedded = await startEmbeddedPostgres({ dataDir: dir, port });
  console.log(`No PostgreSQL on 127.0.0.1:5432: tests run on an embedded one (port ${port}).`);
  return {
    url: databaseUrl('postgres', embedded.url),
    stop: async () => {
      await embedded.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** A run that was killed never reached its teardown: drop the databases of runs whose process is gone. */
async function dropAbandoned(client: pg.Client): Promise<void> {
  const { rows } = await client.query<{ datname: string }>(`SELECT datname FROM pg_database WHERE datname LIKE $1`, [`${TEST_DB_PREFIX}%`]);
  for (const { datname } of rows) {
    const pid = Number(/^swapyard_test_(\d+)_/.exec(datname)?.[1]);
    if (pid && pid !== process.pid && !processAlive(pid)) await client.query(`DROP DATABASE IF EXISTS "${datname}" WITH (FORCE)`);
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const server = await chooseServer();
  const template = `${TEST_DB_PREFIX}${process.pid}_template`;
  await admin(server.url, async (client) => {
    await dropAbandoned(client);
    await client.query(`DROP DATABASE IF EXISTS "${template}" WITH (FORCE)`);
    await client.query(`CREATE DATABASE "${template}"`);
  });
  await applyMigrations(databaseUrl(template, server.url));
  project.provide('adminUrl', server.url);
  project.provide('templateDatabase', template);
  return async () => {
    await admin(server.url, async (client) => {
      const { rows } = await client.query<{ datname: string }>(
        `SELECT datname FROM pg_database WHERE datname LIKE $1`,
        [`${TEST_DB_PREFIX}${process.pid}\\_%`],
      );
      for (const { datname } of rows) await client.query(`DROP DATABASE IF EXISTS "${datname}" WITH (FORCE)`);
    });
    await server.stop();
  };
}
