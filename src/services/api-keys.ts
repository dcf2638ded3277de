// API keys are random 32-byte secrets shown once; only their sha256 is stored.
// A fast hash is right here: the secret has 256 bits of entropy, so there is
// nothing for a slow password hash to protect against.
import { createHash, randomBytes } from 'node:crypto';
import type pg from 'pg';
import { prepared } from '../db/prepared.js';
import { coalescerPer } from '../util/coalescer.js';
import { isUuid } from '../util/uuid.js';

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

/** Longest key name, in characters: a label for people, shown in lists. */
export const MAX_KEY_NAME_LENGTH = 100;

/** Why `name` cannot name a key (the rule and a message), or null: what keys:create and createApiKey both check. */
export function keyNameProblem(name: string): { rule: string; message: string } | null {
  if (name.trim() === '') return { rule: 'required', message: 'must not be empty or blank' };
  if ([...name].length > MAX_KEY_NAME_LENGTH) return { rule: 'max-length', message: `must be at most ${MAX_KEY_NAME_LENGTH} characters` };
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(name)) return { rule: 'printable', message: 'must not contain control characters (newlines, tabs, …)' };
  return null;
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

/** An ApiKeyIdentity's columns. */
const IDENTITY_COLUMNS = `id, name, is_admin AS "isAdmin", expires_at AS "expiresAt"`;

type KeyLookup = ApiKeyIdentity & { hash: string };

/** Looks up many hashes in one statement: each gets its live key's owner, or null. */
async function lookUpHashes(pool: pg.Pool, hashes: string[]): Promise<Array<PromiseSettledResult<ApiKeyIdentity | null>>> {
  const { rows } = await pool.query<KeyLookup>(prepared(
    `SELECT hash, ${IDENTITY_COLUMNS} FROM api_keys WHERE hash = ANY($1::text[]) AND ${KEY_IS_LIVE}`,
    [[...new Set(hashes)]],
  ));
  const byHash = new Map(rows.map(({ hash, ...identity }) => [hash, identity]));
  return hashes.map((h) => ({ status: 'fulfilled', value: byHash.get(h) ?? null }));
}

const secretLookups = coalescerPer(lookUpHashes, { maxBatch: 200, maxInFlight: 1 });

/**
 * The key's owner, or null when the secret is unknown, revoked or expired.
 * Every request looks its key up (a revocation holds from its commit on), and
 * lookups that arrive while others are in flight share the next statement:
 * under load one query serves many requests instead of one each, one at a
 * time (as creates: jobs.ts#createBatcher). Each lookup's statement still
 * starts after its request arrived.
 */
export async function authenticateApiKey(pool: pg.Pool, secret: string): Promise<ApiKeyIdentity | null> {
  if (!secret.startsWith(KEY_PREFIX)) return null;
  return secretLookups(pool).push(hashApiKey(secret));
}

/** Looks up many key ids in one statement: each gets its key's owner if the key is live, or null. */
async function lookUpIds(pool: pg.Pool, ids: string[]): Promise<Array<PromiseSettledResult<ApiKeyIdentity | null>>> {
  const { rows } = await pool.query<ApiKeyIdentity>(prepared(
    `SELECT ${IDENTITY_COLUMNS} FROM api_keys WHERE id = ANY($1::uuid[]) AND ${KEY_IS_LIVE}`,
    [[...new Set(ids)]],
  ));
  const byId = new Map(rows.map((identity) => [identity.id, identity]));
  return ids.map((id) => ({ status: 'fulfilled', value: byId.get(id) ?? null }));
}

const idLookups = coalescerPer(lookUpIds, { maxBatch: 200, maxInFlight: 2 });

/**
 * The owner of key `id` if it is live: what a signed link (src/util/url-signing.ts)
 * acts as. Looked up on every use, so a revocation ends the key's links too; a
 * gallery's hundreds of thumbnail links arrive at once and share statements, as
 * secret lookups do (authenticateApiKey).
 */
export async function liveApiKeyById(pool: pg.Pool, id: string): Promise<ApiKeyIdentity | null> {
  // One malformed id must not fail the batch it shares (a uuid[] cast raises).
  if (!isUuid(id)) return null;
  return idLookups(pool).push(id);
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
