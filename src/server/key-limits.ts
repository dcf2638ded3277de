// What one API key may send and hold, so that no key can starve the others:
// requests per second (rate-limiter-flexible, counters in memory or in
// PostgreSQL), graphql-ws connections per key and operations per connection.
// Each refusal is typed: HTTP 429 with Retry-After, a graphql-ws `error`
// message for the refused subscription (its socket stays open), and a close
// with 1013 for a socket beyond the key's cap (see socketLimitClose).
import type { Refusal } from './request-auth.js';
import { GraphQLError } from 'graphql';
import type pg from 'pg';
import { RateLimiterMemory, RateLimiterPostgres, RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';
import type { KeyLimitsConfig } from '../config.js';

/** The table of rate-limiter-flexible's Postgres store, made by a migration (prisma/schema.prisma, ApiKeyRateLimit). */
const RATE_TABLE = 'api_key_rate_limits';
const WINDOW_SECONDS = 1;

export interface RateRefusal {
  limit: number;
  retryAfterSeconds: number;
  message: string;
}

/**
 * RFC 6455's "Try Again Later". graphql-ws clients treat it as retryable (only
 * 1000-1999 protocol codes and a few 44xx codes end a client for good), so a
 * client with retries on reconnects with its own randomised backoff, and gets in
 * once one of the key's other sockets closes; without retries, the close event,
 * with this code and the reason, reaches its error sinks.
 */
export const SOCKET_LIMIT_CLOSE_CODE = 1013;

export class KeyLimits {
  private readonly limiter: RateLimiterAbstract | null;

  constructor(
    readonly config: KeyLimitsConfig,
    pool: pg.Pool,
  ) {
    const points = config.requestsPerSecond;
    if (points <= 0) {
      this.limiter = null;
    } else if (config.rateLimitStore === 'postgres') {
      // One counter per key for every API process. A key over its limit is
      // remembered in memory for the rest of its window, so its refused requests
      // cost no further writes; if PostgreSQL fails, counting goes on in memory.
      this.limiter = new RateLimiterPostgres({
        storeClient: pool,
        storeType: 'pool',
        tableName: RATE_TABLE,
        tableCreated: true,
        keyPrefix: 'rq',
        points,
        duration: WINDOW_SECONDS,
        inMemoryBlockOnConsumed: points,
        insuranceLimiter: new RateLimiterMemory({ keyPrefix: 'rq', points, duration: WINDOW_SECONDS }),
      });
    } else {
      this.limiter = new RateLimiterMemory({ keyPrefix: 'rq', points, duration: WINDOW_SECONDS });
    }
  }

  /** Counts one request of the key: null when it may go on, else why not. */
  async admit(apiKeyId: string): Promise<RateRefusal | null> {
    if (!this.limiter) return null;
    try {
      await this.limiter.consume(apiKeyId);
      return null;
    } catch (res) {
      if (!(res instanceof RateLimiterRes)) throw res;
      const limit = this.config.requestsPerSecond;
      const retryAfterSeconds = Math.max(1, Math.ceil(res.msBeforeNext / 1000));
      return {
        limit,
        retryAfterSeconds,
        message: `Too many requests for this API key: at most ${limit} per second. Retry after ${retryAfterSeconds} s.`,
      };
    }
  }

  /**
   * The errors for a graphql-ws subscribe message that may not run, or null:
   * beyond the socket's cap (`running`: graphql-ws's operations of the socket,
   * the new one included), or beyond the key's rate.
   */
  async admitSubscribe(apiKeyId: string, running: Readonly<Record<string, unknown>>): Promise<GraphQLError[] | null> {
    const beyondCap = this.subscriptionRefusal(running);
    if (beyondCap) return [beyondCap];
    const refusal = await this.admit(apiKeyId);
    return refusal ? [rateLimitedError(refusal)] : null;
  }

  private subscriptionRefusal(running: Readonly<Record<string, unknown>>): GraphQLError | null {
    const limit = this.config.subscriptionsPerSocket;
    if (limit <= 0) return null;
    let count = 0;
    // Counted up to one past the cap, not Object.keys: a socket may hold many.
    for (const _ in running) if (++count > limit) break;
    if (count <= limit) return null;
    return new GraphQLError(
      `This connection already runs ${limit} operations, the most one connection may; complete one, or open another connection.`,
      { extensions: { code: 'LIMIT_EXCEEDED', field: 'subscribe', rule: 'subscriptions-per-socket', limit } },
    );
  }

  /** How to close a connection beyond the key's cap, or null when `open` (the key's other connections) leaves room. */
  socketRefusal(open: number): { code: number; reason: string } | null {
    const limit = this.config.socketsPerKey;
    if (limit <= 0 || open < limit) return null;
    return { code: SOCKET_LIMIT_CLOSE_CODE, reason: `Too many connections for this API key (at most ${limit})` };
  }
}

/** A refused request as a GraphQL error (a graphql-ws `error` message for the refused subscribe). */
export function rateLimitedError(refusal: RateRefusal): GraphQLError {
  return new GraphQLError(refusal.message, {
    extensions: {
      code: 'RATE_LIMITED',
      field: 'Authorization',
      rule: 'requests-per-second',
      limit: refusal.limit,
      retryAfterSeconds: refusal.retryAfterSeconds,
    },
  });
}

/** A refused HTTP request: 429 with Retry-After, answered from its headers (http-server.ts). */
export function rateLimitedRefusal(refusal: RateRefusal): Refusal {
  return {
    status: 429,
    headers: { 'retry-after': String(refusal.retryAfterSeconds) },
    error: rateLimitedError(refusal).toJSON(),
  };
}
