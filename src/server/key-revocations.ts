// Closes the graphql-ws connections of keys that stop working. HTTP requests
// need nothing here (each one looks its key up), but a connection is
// authenticated once, at connection_init, and would otherwise outlive its key.
// - Revoked: revokeApiKey NOTIFYs in its own statement; every API process
//   LISTENs (on the event hub's connection) and closes the key's sockets at once.
//   After the listener (re)connects, the keys with open sockets are checked in
//   the database, since notices sent while it was down are lost.
// - Expired: a key's expiry is known from its lookup; a check every 200 ms
//   closes its sockets once it has passed.
// A connection whose key lookup raced the revocation (read before the commit,
// attached after the notice) is refused by `refusal`, which remembers recent
// revocations for a while.
import type pg from 'pg';
import { API_KEYS_CHANNEL, deadApiKeys, type ApiKeyNotice } from '../services/api-keys.js';
import type { ConnectionState, KeyContexts } from './key-contexts.js';

/** graphql-ws's Forbidden: what a connection_init with a refused key gets too. */
export const KEY_REFUSED_CLOSE_CODE = 4403;
const EXPIRY_CHECK_MS = 200;
/** Far longer than any key lookup takes. */
const REMEMBER_REVOKED_MS = 60_000;

export interface NoticeSource {
  listen(channel: string, onNotice: (payload: string) => void, onConnected: () => void): Promise<void>;
}

export interface KeyRevocations {
  /** How to close a connection of `apiKeyId` that is being attached, when its key was just revoked. */
  refusal(apiKeyId: string): { code: number; reason: string } | null;
  stop(): void;
}

export async function closeConnectionsOfDeadKeys<C, S extends ConnectionState<C>>(opts: {
  keyContexts: KeyContexts<C, S>;
  pool: pg.Pool;
  notices: NoticeSource;
  close: (connection: S, code: number, reason: string) => void;
  log?: (line: string) => void;
}): Promise<KeyRevocations> {
  const revokedAt = new Map<string, number>();
  const closeKey = (apiKeyId: string, reason: string) => {
    for (const connection of opts.keyContexts.connectionsOf(apiKeyId)) opts.close(connection, KEY_REFUSED_CLOSE_CODE, reason);
  };
  const revoked = (apiKeyId: string) => {
    const now = Date.now();
    for (const [id, at] of revokedAt) if (now - at > REMEMBER_REVOKED_MS) revokedAt.delete(id);
    revokedAt.set(apiKeyId, now);
    closeKey(apiKeyId, 'API key revoked');
  };

  await opts.notices.listen(
    API_KEYS_CHANNEL,
    (payload) => {
      const notice = JSON.parse(payload) as ApiKeyNotice;
      revoked(notice.apiKeyId);
    },
    () => {
      const ids = [...opts.keyContexts.keys()].map((k) => k.apiKeyId);
      deadApiKeys(opts.pool, ids).then(
        (dead) => {
          for (const key of dead) key.revoked ? revoked(key.id) : closeKey(key.id, 'API key expired');
        },
        (err: Error) => opts.log?.(`[keys] checking connected keys failed: ${err.message}`),
      );
    },
  );

  const expiry = setInterval(() => {
    const now = Date.now();
    for (const key of opts.keyContexts.keys()) {
      if (key.expiresAt && key.expiresAt.getTime() <= now) closeKey(key.apiKeyId, 'API key expired');
    }
  }, EXPIRY_CHECK_MS);
  expiry.unref();

  return {
    refusal: (apiKeyId) => {
      const at = revokedAt.get(apiKeyId);
      return at !== undefined && Date.now() - at <= REMEMBER_REVOKED_MS ? { code: KEY_REFUSED_CLOSE_CODE, reason: 'API key revoked' } : null;
    },
    stop: () => clearInterval(expiry),
  };
}
