// /healthz and /readyz, the same on the API and on a worker. /healthz is
// liveness: the process answers, nothing more (a process waiting for its
// database is alive; restarting it would not help). /readyz is readiness:
// 200 when the database answers and every LISTEN connection of the process
// is up, 503 otherwise, with the state of each check (names only, never a
// driver message).
import type { Readiness } from '../services/readiness.js';
import { sendJson } from './json-response.js';
import type { RouteTable } from './worker-http.js';

export function healthRoutes(readiness: Readiness): RouteTable {
  return {
    '/healthz': (_req, res) => sendJson(res, 200, { ok: true }),
    '/readyz': async (_req, res) => {
      const report = await readiness.check();
      sendJson(res, report.ready ? 200 : 503, report, { 'cache-control': 'no-store' });
    },
  };
}
