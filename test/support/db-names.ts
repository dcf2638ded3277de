/** The PostgreSQL server tests run against; CI's is on 127.0.0.1:5432 with trust auth. */
export function adminUrl(): string {
  return process.env.TEST_DATABASE_ADMIN_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres';
}

export function databaseUrl(name: string): string {
  const url = new URL(adminUrl());
  url.pathname = `/${name}`;
  return url.toString();
}

export const TEST_DB_PREFIX = 'swapyard_test_';
