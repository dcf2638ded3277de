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
  /** When the key stops working; its open sockets are closed then (src/server/key-revocations.ts). */
  expiresAt: Date | null;
}

/** NOTIFY channel of revocations: every API process closes the revoked key's sockets. */
export const API_KEYS_CHANNEL = 'swapyard_api_keys';
export interface ApiKeyNotice {
  apiKeyId: string;
}

const KEY_PREFIX = 'sy_';

export function hashApiKey(secret: string): string {
  return createHash('sha256').update(secret).digest('hex');
}

export async function createApiKey(
  pool: pg.Pool,
  name: string,
  opts: { admin?: boolean; expiresAt?: Date | null } = {},
): Promise<{ id: string; secret: string }> {
  const secret = KEY_PREFIX + randomBytes(32).toString('base64url');
  const { rows } = await pool.query<{ id: string }>(
    `INSERT INTO api_keys (id, name, prefix, hash, is_admin, expires_at) VALUES (gen_random_uuid(), $1, $2, $3, $4, $5) RETURNING id`,
    [name, secret.slice(0, 10), hashApiKey(secret), opts.admin ?? false, opts.expiresAt ?? null],
  );
  return { id: rows[0]!.id, secret };
}

export async function countApiKeys(pool: pg.Pool): Promise<number> {
  const { rows } = await pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM api_keys`);
  return rows[0]!.n;
}

export interface ApiKeyRow {
  id: string;
  name: string;
  prefix: string;
  isAdmin: boolean;
  createdAt: Date;
  revokedAt: Date | null;
  expiresAt: Date | null;
}

const KEY_COLUMNS = `id, name, prefix, is_admin AS "isAdmin", created_at AS "createdAt", revoked_at AS "revokedAt", expires_at AS "expiresAt"`;

/** A key that is neither revoked nor expired (SQL over api_keys' columns). */
const KEY_IS_LIVE = `revoked_at IS NULL AND (expires_at IS NULL OR expires_at > now())`;

/** The key's owner, or null when the secret is unknown, revoked or expired. */
export async function authenticateApiKey(pool: pg.Pool, secret: string): Promise<ApiKeyIdentity | null> {
  if (!secret.startsWith(KEY_PREFIX)) return null;
  const { rows } = await pool.query<ApiKeyIdentity>(prepared(
    `SELECT id, name, is_admin AS "isAdmin", expires_at AS "expiresAt" FROM api_keys WHERE hash = $1 AND ${KEY_IS_LIVE}`,
    [hashApiKey(secret)],
  ));
  return rows[0] ?? null;
}

/** Of `ids`, those no longer live, and why: what a process that may have missed notices must close. */
export async function deadApiKeys(pool: pg.Pool, ids: readonly string[]): Promise<{ id: string; revoked: boolean }[]> {
  if (ids.length === 0) return [];
  const { rows } = await pool.query<{ id: string; revoked: boolean }>(
    `SELECT id, revoked_at IS NOT NULL AS revoked FROM api_keys WHERE id = ANY($1::uuid[]) AND NOT (${KEY_IS_LIVE})`,
    [ids],
  );
  return rows;
}

/**
 * Revokes a key (its first revocation time is kept) and, in the same statement,
 * tells every API process to close its sockets; HTTP requests are refused from
 * the commit on, since each one looks its key up. Null when no key has this id.
 */
export async function revokeApiKey(pool: pg.Pool, id: string): Promise<ApiKeyRow | null> {
  const { rows } = await pool.query<ApiKeyRow>(
    `WITH revoked AS (
       UPDATE api_keys SET revoked_at = COALESCE(revoked_at, now()) WHERE id = $1 RETURNING ${KEY_COLUMNS}
     )
     SELECT revoked.* FROM revoked
       CROSS JOIN LATERAL (SELECT pg_notify('${API_KEYS_CHANNEL}', json_build_object('apiKeyId', revoked.id)::text)) AS notice`,
    [id],
  );
  return rows[0] ?? null;
}

/** Reads "Bearer <key>" (the scheme is case-insensitive per RFC 7235). */
export function bearerToken(header: unknown): string | null {
  if (typeof header !== 'string') return null;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return match ? match[1]! : null;
}

export async function findApiKey(pool: pg.Pool, id: string): Promise<ApiKeyRow | null> {
  const { rows } = await pool.query<ApiKeyRow>(`SELECT ${KEY_COLUMNS} FROM api_keys WHERE id = $1`, [id]);
  return rows[0] ?? null;
}

export async function listApiKeys(pool: pg.Pool): Promise<ApiKeyRow[]> {
  const { rows } = await pool.query<ApiKeyRow>(`SELECT ${KEY_COLUMNS} FROM api_keys ORDER BY created_at, id`);
  return rows;
}

/** Keys with this exact name, oldest first (names are not unique). */
export async function findApiKeysByName(pool: pg.Pool, name: string): Promise<ApiKeyRow[]> {
  const { rows } = await pool.query<ApiKeyRow>(`SELECT ${KEY_COLUMNS} FROM api_keys WHERE name = $1 ORDER BY created_at, id`, [name]);
  return rows;
}
