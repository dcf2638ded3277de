// The raw-SQL lists of job columns are derived from Prisma's model
// (src/db/job-columns.ts); this checks that model against the migrated table,
// so a column that schema.prisma names differently from its snake_case fails here.
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JOB_COLUMNS, columnOf } from '../src/db/job-columns.js';
import { createTestDatabase } from './support/db.js';

let pool: pg.Pool;
beforeAll(async () => {
  const url = await createTestDatabase();
  pool = new pg.Pool({ connectionString: url, max: 1 });
});
afterAll(async () => {
  await pool?.end();
});

describe('job columns', () => {
  it('are exactly the columns of the jobs table, with bigint and date columns marked', async () => {
    const { rows } = await pool.query<{ column_name: string; data_type: string }>(
      `SELECT column_name, data_type FROM information_schema.columns WHERE table_name = 'jobs' AND table_schema = current_schema()`,
    );
    expect(JOB_COLUMNS.map((c) => c.column).sort()).toEqual(rows.map((r) => r.column_name).sort());
    const kinds = Object.fromEntries(rows.map((r) => [r.column_name, r.data_type === 'bigint' ? 'bigint' : r.data_type.startsWith('timestamp') ? 'date' : undefined]));
    for (const c of JOB_COLUMNS) expect([c.column, c.kind]).toEqual([c.column, kinds[c.column]]);
  });

  it('maps camelCase properties to snake_case columns', () => {
    expect(columnOf('apiKeyId')).toBe('api_key_id');
    expect(columnOf('outputSha256')).toBe('output_sha256');
    expect(columnOf('id')).toBe('id');
  });
});
