import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { inject } from 'vitest';
import { adminUrl, databaseUrl } from './db-names.js';

/** A fresh, migrated database of its own for one test file (unmigrated with `empty`). Dropped by the global teardown. */
export async function createTestDatabase(opts: { empty?: boolean } = {}): Promise<string> {
  const template = inject('templateDatabase');
  const name = `${template.replace(/_template$/, '')}_${randomBytes(4).toString('hex')}`;
  const client = new pg.Client({ connectionString: adminUrl() });
  await client.connect();
  try {
    for (let attempt = 0; ; attempt++) {
      try {
        await client.query(`CREATE DATABASE "${name}"${opts.empty ? '' : ` TEMPLATE "${template}"`}`);
        break;
      } catch (err) {
        // Two files cloning the template at the same instant: "source database is being accessed by other users".
        if ((err as { code?: string }).code !== '55006' || attempt > 50) throw err;
        await new Promise((r) => setTimeout(r, 50 + Math.random() * 100));
      }
    }
  } finally {
    await client.end();
  }
  return databaseUrl(name);
}
