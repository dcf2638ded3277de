// Arguments of the key commands (keys:create, keys:list, keys:revoke).
import type pg from 'pg';
import { uuidOfGlobalId } from '../util/global-ids.js';
import { findApiKey, findApiKeysByName, type ApiKeyRow } from '../services/api-keys.js';

/** An ISO 8601 time, or a duration from `now` (90m, 12h, 30d); null when it is neither. */
export function parseExpiry(text: string, now = Date.now()): Date | null {
  const duration = /^(\d+)([mhd])$/.exec(text);
  if (duration) return new Date(now + Number(duration[1]) * { m: 60_000, h: 3_600_000, d: 86_400_000 }[duration[2] as 'm' | 'h' | 'd']);
  if (!/^\d{4}-\d{2}-\d{2}/.test(text)) return null;
  const at = new Date(text);
  return Number.isNaN(at.getTime()) ? null : at;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The key an argument names: its id (as keys:list prints it, or ApiKey.id), else its name; or why none. */
export async function keyNamedBy(pool: pg.Pool, arg: string): Promise<ApiKeyRow | string> {
  const id = UUID.test(arg) ? arg : uuidOfGlobalId(arg, 'ApiKey');
  if (id) return (await findApiKey(pool, id)) ?? `No API key has the id ${arg}.`;
  const named = await findApiKeysByName(pool, arg);
  if (named.length === 1) return named[0]!;
  if (named.length === 0) return `No API key has the id or name ${JSON.stringify(arg)} (npm run keys:list shows them).`;
  return `${named.length} API keys are named ${JSON.stringify(arg)}; give the id of one:\n${named.map((k) => `  ${k.id}  ${k.prefix}…  created ${k.createdAt.toISOString()}`).join('\n')}`;
}

/** active, revoked or expired, as of `now`. */
export function keyState(key: ApiKeyRow, now = Date.now()): string {
  if (key.revokedAt) return `revoked ${key.revokedAt.toISOString()}`;
  if (key.expiresAt && key.expiresAt.getTime() <= now) return `expired ${key.expiresAt.toISOString()}`;
  return key.expiresAt ? `active until ${key.expiresAt.toISOString()}` : 'active';
}
