// API keys are random 32-byte secrets shown once; only their sha256 is stored.
// A fast hash is right here: the secret has 256 bits of entropy, so there is
// nothing for a slow password hash to protect against.
import { createHash, randomBytes } from 'node:crypto';
import type pg from 'pg';
import { prepared } from '../db/prepared.js';

export interface ApiKeyIdentity {
  id: string;
  name: string;
  /** Sees every key's spend and sets budgets. */
  isAdmin: boolean;
}

const KEY_PREFIX = 'sy_';

export function hashApiKey(secret: string): string {
  return createHash('sha256').update(secret).digest('hex');
}

export async function createApiKey(pool: pg.Pool, name: string, opts: { admin?: boolean } = {}): Promise<{ id: string; secret: string }> {
  const secret = KEY_PREFIX + randomBytes(32).toString('base64url');
  const { rows } = await pool.query<{ id: string }>(
    `INSERT INTO api_keys (id, name, prefix, hash, is_admin) VALUES (gen_random_uuid(), $1, $2, $3, $4) RETURNING id`,
    [name, secret.slice(0, 10), hashApiKey(secret), opts.admin ?? false],
  );
  return { id: rows[0]!.id, secret };
}

export async function countApiKeys(pool: pg.Pool): Promise<number> {
  const { rows } = await pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM api_keys`);
  return rows[0]!.n;
}

/** The key's owner, or null when the secret is unknown or revoked. */
export async function authenticateApiKey(pool: pg.Pool, secret: string): Promise<ApiKeyIdentity | null> {
  if (!secret.startsWith(KEY_PREFIX)) return null;
  const { rows } = await pool.query<ApiKeyIdentity>(prepared(
    `SELECT id, name, is_admin AS "isAdmin" FROM api_keys WHERE hash = $1 AND revoked_at IS NULL`,
    [hashApiKey(secret)],
  ));
  return rows[0] ?? null;
}

/** Reads "Bearer <key>" (the scheme is case-insensitive per RFC 7235). */
export function bearerToken(header: unknown): string | null {
  if (typeof header !== 'string') return null;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return match ? match[1]! : null;
}

export interface ApiKeyRow {
  id: string;
  name: string;
  prefix: string;
  isAdmin: boolean;
  createdAt: Date;
  revokedAt: Date | null;
}

const KEY_COLUMNS = `id, name, prefix, is_admin AS "isAdmin", created_at AS "createdAt", revoked_at AS "revokedAt"`;

export async function findApiKey(pool: pg.Pool, id: string): Promise<ApiKeyRow | null> {
  const { rows } = await pool.query<ApiKeyRow>(`SELECT ${KEY_COLUMNS} FROM api_keys WHERE id = $1`, [id]);
  return rows[0] ?? null;
}

export async function listApiKeys(pool: pg.Pool): Promise<ApiKeyRow[]> {
  const { rows } = await pool.query<ApiKeyRow>(`SELECT ${KEY_COLUMNS} FROM api_keys ORDER BY created_at, id`);
  return rows;
}
