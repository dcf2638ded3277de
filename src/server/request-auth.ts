// Who sent an HTTP request, from its headers alone. A request without a valid key is
// refused before its body is read: a 30 MB body from anyone used to be read and
// JSON-parsed before the 401. A database that cannot be reached is a 503 with
// Retry-After, not an internal error.
import { GraphQLError, type GraphQLFormattedError } from 'graphql';
import type pg from 'pg';
import { isDatabaseUnavailable } from '../db/unavailable.js';
import { authenticateApiKey, bearerToken, type ApiKeyIdentity } from '../services/api-keys.js';
import { RETRY_AFTER_SECONDS, serviceUnavailable } from './error-masking.js';
import { componentLogger } from '../util/logger.js';

const log = componentLogger('http');

const MISSING_KEY = 'Send your API key as "Authorization: Bearer <key>".';
const UNKNOWN_KEY = 'The API key is unknown, revoked or expired.';

export interface Refusal {
  status: number;
  headers: Record<string, string>;
  error: GraphQLFormattedError;
}

export function unauthenticated(message: string): GraphQLError {
  return new GraphQLError(message, {
    extensions: { code: 'UNAUTHENTICATED', field: 'Authorization', rule: 'api-key', http: { status: 401 } },
  });
}

function refusedUnauthenticated(message: string): Refusal {
  const { extensions } = unauthenticated(message);
  const { http: _http, ...rest } = extensions;
  return { status: 401, headers: {}, error: { message, extensions: rest } };
}

/** The key's owner, or why the request is refused. */
export async function authenticateHeaders(pool: pg.Pool, authorization: unknown): Promise<{ apiKey: ApiKeyIdentity } | { refusal: Refusal }> {
  const token = bearerToken(authorization);
  if (!token) return { refusal: refusedUnauthenticated(MISSING_KEY) };
  try {
    const apiKey = await authenticateApiKey(pool, token);
    return apiKey ? { apiKey } : { refusal: refusedUnauthenticated(UNKNOWN_KEY) };
  } catch (err) {
    if (!isDatabaseUnavailable(err)) throw err;
    log.warn({ err }, 'database unavailable');
    return { refusal: { status: 503, headers: { 'retry-after': String(RETRY_AFTER_SECONDS) }, error: serviceUnavailable } };
  }
}
