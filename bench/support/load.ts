// A closed-loop load generator: `clients` concurrent callers, each sending its
// next request as soon as the previous one is answered, for a fixed time.
// Latencies are kept raw; throughput is completed requests / elapsed time.
import { performance } from 'node:perf_hooks';
import { Pool } from 'undici';
import { summarize, type Summary } from './stats.js';

export interface LoadResult {
  requests: number;
  errors: number;
  firstError?: string;
  seconds: number;
  perSecond: number;
  latencyMs: Summary;
}

/** Runs `call(clientIndex)` from `clients` loops for `seconds`; a call that throws counts as an error. */
export async function closedLoop(clients: number, seconds: number, call: (client: number) => Promise<void>): Promise<LoadResult> {
  const samples: number[] = [];
  let errors = 0;
  let firstError: string | undefined;
  const start = performance.now();
  const end = start + seconds * 1000;
  await Promise.all(
    Array.from({ length: clients }, async (_, c) => {
      while (performance.now() < end) {
        const t0 = performance.now();
        try {
          await call(c);
          samples.push(performance.now() - t0);
        } catch (err) {
          errors++;
          firstError ??= (err as Error).message;
        }
      }
    }),
  );
  const elapsed = (performance.now() - start) / 1000;
  return { requests: samples.length, errors, firstError, seconds: elapsed, perSecond: samples.length / elapsed, latencyMs: summarize(samples) };
}

/** A keep-alive HTTP client for GraphQL POSTs, one connection per concurrent caller. */
export function graphqlClient(baseUrl: string, connections: number) {
  const pool = new Pool(baseUrl, { connections, pipelining: 1, keepAliveTimeout: 60_000 });
  return {
    async post<T = any>(path: string, body: unknown, headers: Record<string, string> = {}): Promise<{ status: number; json: T }> {
      const res = await pool.request({
        path,
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body: JSON.stringify(body),
      });
      const json = (await res.body.json()) as T;
      return { status: res.statusCode, json };
    },
    close: () => pool.close(),
  };
}
