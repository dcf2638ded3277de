// One pg pool per process, shared by Prisma (GraphQL reads, job history and
// webhook endpoints) and by the hand-written SQL of job creation, the job
// steps, the event hub and everything else.
import { PrismaPg } from '@prisma/adapter-pg';
import pg from 'pg';
import { PrismaClient } from '../generated/prisma/client.js';
import { componentLogger } from '../util/logger.js';

const log = componentLogger('db');

export interface Db {
  url: string;
  pool: pg.Pool;
  prisma: PrismaClient;
  close(): Promise<void>;
}

export function connectDb(url: string, opts: { max?: number; onQuery?: (sql: string) => void } = {}): Db {
  const pool = new pg.Pool({ connectionString: url, max: opts.max ?? 10 });
  // An idle client losing its connection (a database restart) must not crash the process.
  pool.on('error', (err) => log.warn({ err }, 'idle client error'));
  if (opts.onQuery) watchQueries(pool, opts.onQuery);
  const prisma = new PrismaClient({ adapter: new PrismaPg(pool) });
  return {
    url,
    pool,
    prisma,
    async close() {
      await prisma.$disconnect();
      await pool.end();
    },
  };
}

/**
 * Prisma loads its query compiler (a WebAssembly module) on its first query:
 * about 300 ms of this thread's CPU on a quiet 2-core machine, seconds on a
 * loaded one. Paid at start, it stalls no request, and no lease heartbeat of a
 * worker in the same process.
 */
export async function warmUp(db: Db): Promise<void> {
  await db.prisma.job.findFirst({ select: { id: true } });
}

/**
 * Reports the text of every statement sent on the pool's connections (Prisma's
 * through its adapter, and the hand-written SQL), for tests that check what a
 * read loads, at the driver rather than in one of its callers.
 */
function watchQueries(pool: pg.Pool, onQuery: (sql: string) => void): void {
  pool.on('connect', (client) => {
    const query = client.query.bind(client) as (...args: unknown[]) => unknown;
    (client as { query: unknown }).query = (config: unknown, ...rest: unknown[]) => {
      onQuery(typeof config === 'string' ? config : String((config as { text?: unknown } | null)?.text ?? ''));
      return query(config, ...rest);
    };
  });
}
