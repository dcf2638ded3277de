// The worker's own small HTTP server: a route table of exact paths (GET/HEAD),
// 404 for anything else. It serves the worker's /healthz and /readyz
// (health.ts), so an orchestrator can probe a worker as it probes the API;
// other read-only endpoints join the same table.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { componentLogger } from '../util/logger.js';
import { sendJson } from './json-response.js';

const log = componentLogger('worker-http');

export type RouteHandler = (req: IncomingMessage, res: ServerResponse) => void | Promise<void>;
export type RouteTable = Record<string, RouteHandler>;

export interface RunningWorkerHttp {
  url: string;
  server: Server;
  close(): Promise<void>;
}

export async function startWorkerHttpServer(opts: { host: string; port: number; routes: RouteTable }): Promise<RunningWorkerHttp> {
  const server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    const route = Object.hasOwn(opts.routes, path) ? opts.routes[path] : undefined;
    if (!route) return sendJson(res, 404, { error: 'not found' });
    if (req.method !== 'GET' && req.method !== 'HEAD') return sendJson(res, 405, { error: 'method not allowed' }, { allow: 'GET, HEAD' });
    Promise.resolve(route(req, res)).catch((err) => {
      log.error({ err, path }, 'route failed');
      if (!res.headersSent) sendJson(res, 500, { error: 'internal error' });
      else res.destroy();
    });
  });
  // A probe holds no connection open for long.
  server.requestTimeout = 10_000;
  server.headersTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => resolve());
  });
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return {
    url: `http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${address.port}`,
    server,
    close: () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}
