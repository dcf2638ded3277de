// Builds one migrated template database per test run; each test file clones
// it (CREATE DATABASE … TEMPLATE), which takes milliseconds instead of
// migrating afresh, and runs against its own real PostgreSQL database.
import pg from 'pg';
import type { TestProject } from 'vitest/node';
import { applyMigrations } from '../../src/db/migrations.js';
import { adminUrl, databaseUrl, TEST_DB_PREFIX } from './db-names.js';

declare module 'vitest' {
  export interface ProvidedContext {
    templateDatabase: string;
  }
}

async function admin<T>(fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: adminUrl() });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

async function dropTestDatabases(client: pg.Client, pattern: string): Promise<void> {
  const { rows } = await client.query<{ datname: string }>(`SELECT datname FROM pg_database WHERE datname LIKE $1`, [pattern]);
  for (const { datname } of rows) await client.query(`DROP DATABASE IF EXISTS "${datname}" WITH (FORCE)`);
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const template = `${TEST_DB_PREFIX}${process.pid}_template`;
  await admin(async (client) => {
    await client.query(`DROP DATABASE IF EXISTS "${template}" WITH (FORCE)`);
    await client.query(`CREATE DATABASE "${template}"`);
  });
  await applyMigrations(databaseUrl(template));
  project.provide('templateDatabase', template);
  return async () => {
    await admin((client) => dropTestDatabases(client, `${TEST_DB_PREFIX}${process.pid}\\_%`));
  };
}
