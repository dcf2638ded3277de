// GET /metrics: the Prometheus text of src/util/metrics.ts, for the API's
// server (or its METRICS_ADDRESS listener) and a worker's own port. Who may
// scrape, in order:
// - METRICS_TOKEN set: a request with `Authorization: Bearer <that token>`;
// - otherwise, on the API's public port: an admin API key (metrics show every
//   key's jobs and spend, which only admin keys may see over GraphQL);
// - otherwise, on a METRICS_ADDRESS listener: anyone who can reach it (the
//   address, an internal interface, is the protection);
// - otherwise, on a worker's port: clients on loopback only.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type pg from 'pg';
import { authenticateHeaders } from './request-auth.js';
import { bearerToken } from '../services/api-keys.js';
import { scrape } from '../util/metrics.js';
import type { RouteHandler } from './worker-http.js';

export type MetricsAccess = {
  /** METRICS_TOKEN. */
  token: string | null;
} & (
  /** Without a token: admit admin API keys of this database (the API's public port). */
  | { otherwise: 'admin-key'; pool: pg.Pool }
  /** Without a token: loopback clients only (a worker's port). */
  | { otherwise: 'loopback' }
  /** Without a token: anyone (a listener on METRICS_ADDRESS). */
  | { otherwise: 'open' }
);

function digest(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}

function refuse(res: ServerResponse, status: number, message: string): void {
  const body = JSON.stringify({ error: message });
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    ...(status === 401 ? { 'www-authenticate': 'Bearer realm="metrics"' } : {}),
  });
  res.end(body);
}

function isLoopback(req: IncomingMessage): boolean {
  const address = req.socket.remoteAddress ?? '';
  return address === '::1' || address.startsWith('127.') || address.startsWith('::ffff:127.');
}

/** Why `req` may not scrape, or null when it may. */
async function refusal(req: IncomingMessage, access: MetricsAccess): Promise<[number, string] | null> {
  if (access.token !== null) {
    const given = bearerToken(req.headers.authorization);
    // Compared as digests: equal lengths, constant time.
    return given !== null && timingSafeEqual(digest(given), digest(access.token))
      ? null
      : [401, 'Send the metrics token as "Authorization: Bearer <METRICS_TOKEN>".'];
  }
  if (access.otherwise === 'open') return null;
  if (access.otherwise === 'admin-key') {
    const auth = await authenticateHeaders(access.pool, req.headers.authorization);
    if ('refusal' in auth) return [auth.refusal.status, 'Send an admin API key as "Authorization: Bearer <key>", or set METRICS_TOKEN.'];
    return auth.apiKey.isAdmin ? null : [403, 'Metrics need an admin API key (or METRICS_TOKEN).'];
  }
  return isLoopback(req) ? null : [403, 'Without METRICS_TOKEN, metrics are served to loopback clients only.'];
}

export function metricsHandler(access: MetricsAccess): RouteHandler {
  return async (req, res) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') return refuse(res, 405, 'GET /metrics');
    const refused = await refusal(req, access);
    if (refused) return refuse(res, refused[0], refused[1]);
    const { contentType, body } = await scrape();
    res.writeHead(200, { 'content-type': contentType, 'cache-control': 'no-store' });
    res.end(req.method === 'HEAD' ? undefined : body);
  };
}
