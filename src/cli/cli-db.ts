// The database the key commands work on: DATABASE_URL, or the embedded
// server `npm start` runs (which must be running), migrated first.
import { prepareDatabase } from '../app.js';
import { loadConfig } from '../config.js';
import { connectDb, type Db } from '../db/client.js';

export async function withCliDb<T>(fn: (db: Db) => Promise<T>): Promise<T> {
  const config = loadConfig();
  const url = config.databaseUrl ?? `postgresql://postgres:postgres@127.0.0.1:${config.embeddedPgPort}/swapyard`;
  await prepareDatabase(url);
  const db = connectDb(url, { max: 1 });
  try {
    return await fn(db);
  } finally {
    await db.close();
  }
}
