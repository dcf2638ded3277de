// One pg pool per process, shared by Prisma (GraphQL reads and job creation)
// and by the hand-written SQL of the worker and the event hub.
import { PrismaPg } from '@prisma/adapter-pg';
import pg from 'pg';
import { PrismaClient } from '../generated/prisma/client.js';

export interface Db {
  url: string;
  pool: pg.Pool;
  prisma: PrismaClient;
  close(): Promise<void>;
}

export function connectDb(url: string, opts: { max?: number } = {}): Db {
  const pool = new pg.Pool({ connectionString: url, max: opts.max ?? 10 });
  // An idle client losing its connection (a database restart) must not crash the process.
  pool.on('error', (err) => console.error('[db] idle client error:', err.message));
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
