// Bench databases: created and dropped by each bench on the local PostgreSQL
// (BENCH_DATABASE_ADMIN_URL, default the trust-auth server on 127.0.0.1:5432)
// and migrated with the project's own migration code. Never the embedded server.
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { applyMigrations } from '../../src/db/migrations.js';
import { log } from './report.js';

export const BENCH_DB_PREFIX = 'swapyard_bench_';

export function adminUrl(): string {
  return process.env.BENCH_DATABASE_ADMIN_URL || 'postgresql://postgres@127.0.0.1:5432/postgres';
}

export function databaseUrl(name: string): string {
  const url = new URL(adminUrl());
  url.pathname = `/${name}`;
  return url.toString();
}

export async function withAdmin<T>(fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: adminUrl() });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

export interface BenchDatabase {
  name: string;
  url: string;
  /**
   * A pool on this database whose idle clients' errors are logged. pg-pool's
   * end() resolves before its clients' sockets close (it starts client.end()
   * without waiting), so the forced drop right after can still cut one, and
   * its error must not end a bench with an unhandled 'error' (seen in
   * bench:history and bench:scaling in the full suite).
   */
  pool(max: number): pg.Pool;
  drop(): Promise<void>;
}

/** A fresh database `swapyard_bench_<label>_<pid>_<random>`, migrated. Drop it when done (also done on exit by `cleanup`). */
export async function createBenchDatabase(label: string): Promise<BenchDatabase> {
  const name = `${BENCH_DB_PREFIX}${label}_${process.pid}_${randomBytes(3).toString('hex')}`;
  await withAdmin((c) => c.query(`CREATE DATABASE "${name}"`));
  const url = databaseUrl(name);
  await applyMigrations(url);
  let dropped = false;
  return {
    name,
    url,
    pool(max) {
      const pool = new pg.Pool({ connectionString: url, max });
      pool.on('error', (err) => log(`idle client error on ${name}: ${err.message}`));
      return pool;
    },
    async drop() {
      if (dropped) return;
      dropped = true;
      await withAdmin((c) => c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`));
    },
  };
}

export async function serverVersion(): Promise<string> {
  return withAdmin(async (c) => (await c.query<{ v: string }>('SELECT current_setting($$server_version$$) AS v')).rows[0]!.v);
}
