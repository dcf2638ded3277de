// The database the key commands work on: DATABASE_URL, or the embedded
// server `npm start` runs (which must be running), migrated first. A plain pg
// pool: the commands need neither Prisma nor the app, which take seconds to load.
import pg from 'pg';
import { loadConfig } from '../config.js';
import { prepareDatabase } from '../db/migrations.js';

export async function withCliDb<T>(fn: (pool: pg.Pool) => Promise<T>): Promise<T> {
  const config = loadConfig();
  const url = config.databaseUrl ?? `postgresql://postgres:postgres@127.0.0.1:${config.embeddedPgPort}/swapyard`;
  await prepareDatabase(url);
  const pool = new pg.Pool({ connectionString: url, max: 1 });
  try {
    return await fn(pool);
  } finally {
    await pool.end();
  }
}
