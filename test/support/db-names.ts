import { inject } from 'vitest';

/**
 * The PostgreSQL server the tests run against, chosen by the global setup:
 * TEST_DATABASE_ADMIN_URL, else the local server on 127.0.0.1:5432 (CI's), else
 * an embedded one started for the run.
 */
export function adminUrl(): string {
  return inject('adminUrl');
}

export function databaseUrl(name: string, admin = adminUrl()): string {
  const url = new URL(admin);
  url.pathname = `/${name}`;
  return url.toString();
}

export const TEST_DB_PREFIX = 'swapyard_test_';
