// The database the command-line tools work on, found the way the service finds
// it (serviceDatabase): DATABASE_URL, or the embedded server of the data
// directory: the running one, or one started for this command and stopped
// after. A plain pg pool: the commands need neither Prisma nor the app, which
// take seconds to load. Failures print their cause and fix, and exit 1.
import pg from 'pg';
import { loadConfig } from '../config.js';
import { serviceDatabase } from '../db/embedded-postgres.js';
import { prepareDatabase } from '../db/migrations.js';
import { describeStartupFailure } from '../util/startup-error.js';

/** Runs `fn` with the database URL; the embedded server it had to start is stopped after. */
export async function withCliDatabaseUrl<T>(fn: (url: string) => Promise<T>): Promise<T> {
  let database;
  try {
    database = await serviceDatabase(loadConfig(), 'join-or-start', (line) => console.error(line));
  } catch (err) {
    console.error(describeStartupFailure(err));
    process.exit(1);
  }
  try {
    return await fn(database.url);
  } finally {
    await database.stop();
  }
}

export async function withCliDb<T>(fn: (pool: pg.Pool) => Promise<T>): Promise<T> {
  return withCliDatabaseUrl(async (url) => {
    await prepareDatabase(url);
    const pool = new pg.Pool({ connectionString: url, max: 1 });
    try {
      return await fn(pool);
    } finally {
      await pool.end();
    }
  });
}
