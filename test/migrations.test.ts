// prisma/migrations against prisma/schema.prisma and a real PostgreSQL: the
// folder must build exactly the schema, and applying it must be idempotent
// and safe for two processes starting at once.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import {
  applyMigrations,
  ensureDatabase,
  migrationChecksum,
  migrationsDir,
  migrationStatus,
  schemaDrift,
} from '../src/db/migrations.js';
import { quoteIdent, withDatabase } from '../src/db/pg-adapter-fixes.js';

const adminUrl = inject('adminUrl');
const repoRoot = fileURLToPath(new URL('..', import.meta.url));
const created: string[] = [];

function newDatabaseName(): string {
  const name = `swapyard_test_migrations_${randomBytes(4).toString('hex')}`;
  created.push(name);
  return name;
}

async function admin<T>(fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

async function emptyDatabase(): Promise<string> {
  const name = newDatabaseName();
  await admin((c) => c.query(`CREATE DATABASE ${quoteIdent(name)}`));
  return withDatabase(adminUrl, name);
}

async function query<R extends pg.QueryResultRow>(url: string, sql: string): Promise<R[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<R>(sql)).rows;
  } finally {
    await client.end();
  }
}

interface MigrationRow {
  migration_name: string;
  checksum: string;
  finished_at: Date | null;
  rolled_back_at: Date | null;
  applied_steps_count: number;
}
const migrationRows = (url: string) =>
  query<MigrationRow>(url, 'SELECT * FROM _prisma_migrations ORDER BY migration_name');

let folders: { name: string; checksum: string }[];

beforeAll(async () => {
  const names = (await readdir(migrationsDir, { withFileTypes: true }))
    .filter((e) => e.isDirectory())
    .map((e) => e.name)
    .sort();
  folders = await Promise.all(
    names.map(async (name) => ({
      name,
      checksum: migrationChecksum(await readFile(path.join(migrationsDir, name, 'migration.sql'), 'utf8')),
    })),
  );
});

afterAll(async () => {
  await admin(async (c) => {
    for (const name of created) await c.query(`DROP DATABASE IF EXISTS ${quoteIdent(name)} WITH (FORCE)`);
  });
});

describe('prisma/migrations', () => {
  it('has at least one migration and Prisma’s lockfile', async () => {
    expect(folders.length).toBeGreaterThan(0);
    const lock = await readFile(path.join(migrationsDir, 'migration_lock.toml'), 'utf8');
    expect(lock).toMatch(/^provider = "postgresql"$/m);
  });

  it('describes the same database as prisma/schema.prisma', async () => {
    // The diff runs on a temporary shadow database; the URL only names the server (and a database that exists).
    const drift = await schemaDrift(await emptyDatabase());
    expect(
      drift,
      'prisma/schema.prisma changed without a migration: run `npm run db:migration:new -- <name>` and commit the folder',
    ).toBe('');
  });
});

describe('applyMigrations', () => {
  let url: string;
  beforeAll(async () => {
    url = await emptyDatabase();
  });

  it('applies every folder to an empty database and records them as Prisma does', async () => {
    const { applied } = await applyMigrations(url);
    expect(applied).toEqual(folders.map((f) => f.name));

    const tables = await query<{ tablename: string }>(
      url,
      "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename",
    );
    expect(tables.map((t) => t.tablename)).toEqual(
      expect.arrayContaining(['_prisma_migrations', 'api_keys', 'job_events', 'jobs']),
    );

    const rows = await migrationRows(url);
    expect(rows.map((r) => ({ name: r.migration_name, checksum: r.checksum }))).toEqual(folders);
    for (const row of rows) {
      expect(row.finished_at).toBeInstanceOf(Date);
      expect(row.rolled_back_at).toBeNull();
      expect(row.applied_steps_count).toBe(1);
    }

    const status = await migrationStatus(url);
    expect(status).toMatchObject({ pending: [], failed: [], edited: [], unknownToFolder: [] });
    expect(status.applied).toEqual(folders.map((f) => f.name));
  });

  it('applies nothing the second time', async () => {
    const before = await migrationRows(url);
    await expect(applyMigrations(url)).resolves.toEqual({ applied: [] });
    expect(await migrationRows(url)).toEqual(before);
  });

  it('applies each migration exactly once when two callers start at once', async () => {
    const racing = await emptyDatabase();
    const results = await Promise.all([applyMigrations(racing), applyMigrations(racing)]);
    expect(results.flatMap((r) => r.applied).sort()).toEqual(folders.map((f) => f.name));
    const rows = await migrationRows(racing);
    expect(rows.map((r) => r.migration_name)).toEqual(folders.map((f) => f.name));
  });

  it('applies each migration exactly once when two processes start at once (API and worker)', async () => {
    const name = newDatabaseName();
    const url = withDatabase(adminUrl, name);
    const run = () =>
      promisify(execFile)(
        process.execPath,
        [path.join(repoRoot, 'node_modules/tsx/dist/cli.mjs'), 'src/cli/migrate.ts', 'deploy'],
        { cwd: repoRoot, env: { ...process.env, DATABASE_URL: url } },
      );
    // Both also race to create the database (ensureDatabase).
    const outputs = await Promise.all([run(), run()]);
    const said = outputs.map((o) => o.stdout).join('\n');
    for (const f of folders) expect(said.split(f.name).length - 1).toBe(1);
    const rows = await migrationRows(url);
    expect(rows.map((r) => r.migration_name)).toEqual(folders.map((f) => f.name));
  });

  it('ensureDatabase tolerates a race and an existing database', async () => {
    const name = newDatabaseName();
    const url = withDatabase(adminUrl, name);
    await Promise.all([ensureDatabase(url), ensureDatabase(url), ensureDatabase(url)]);
    await ensureDatabase(url);
    expect(await query(url, 'SELECT 1 AS one')).toEqual([{ one: 1 }]);
  });

  it('upstream_credit_readings: readings already on ledger entries move to the new table', async () => {
    const url = await emptyDatabase();
    const moving = folders.findIndex((f) => f.name.endsWith('_upstream_credit_readings'));
    expect(moving).toBeGreaterThan(0);
    const script = (i: number) => readFile(path.join(migrationsDir, folders[i]!.name, 'migration.sql'), 'utf8');
    for (let i = 0; i < moving; i++) await query(url, await script(i));
    await query(url, `
      INSERT INTO api_keys (id, name, prefix, hash) VALUES ('00000000-0000-4000-8000-000000000001', 'k', 'sy_x', 'h');
      INSERT INTO jobs (id, api_key_id, model, provider, params, status, charged_micros)
      VALUES ('00000000-0000-4000-8000-00000000000a', '00000000-0000-4000-8000-000000000001', 'faceswap-v4', 'segmind', '{}', 'COMPLETED', 5),
             ('00000000-0000-4000-8000-00000000000b', '00000000-0000-4000-8000-000000000001', 'faceswap-v4', 'segmind', '{}', 'COMPLETED', 5);
      INSERT INTO ledger_entries (api_key_id, job_id, model, status, amount_micros, upstream_credits_micros, created_at)
      VALUES ('00000000-0000-4000-8000-000000000001', '00000000-0000-4000-8000-00000000000a', 'faceswap-v4', 'COMPLETED', 5, 123456, '2026-11-01T10:00:00Z'),
             ('00000000-0000-4000-8000-000000000001', '00000000-0000-4000-8000-00000000000b', 'faceswap-v4', 'COMPLETED', 5, NULL, '2026-11-01T10:00:01Z');`);
    await query(url, await script(moving));
    expect(await query(url, `SELECT job_id, credits_micros::text, read_at FROM upstream_credit_readings`)).toEqual([
      { job_id: '00000000-0000-4000-8000-00000000000a', credits_micros: '123456', read_at: new Date('2026-11-01T10:00:00Z') },
    ]);
    const columns = await query<{ column_name: string }>(url,
      `SELECT column_name FROM information_schema.columns WHERE table_name = 'ledger_entries' AND column_name LIKE 'upstream%'`);
    expect(columns).toEqual([]);
  });
});
