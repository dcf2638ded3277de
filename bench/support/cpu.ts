// CPU time used by processes, to say where a request's cost lands (client, API,
// PostgreSQL). CPU per request stays readable on a busy machine, where wall-clock
// throughput does not.
import { readFile } from 'node:fs/promises';
import type pg from 'pg';

/** CPU time (ms) a process has used, from /proc/<pid>/stat (utime + stime, 100 Hz ticks); 0 once it is gone. */
export async function cpuMsOf(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => null);
  if (!stat) return 0;
  const f = stat.slice(stat.lastIndexOf(') ') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) * 10;
}

/** This process's CPU time (ms). */
export function ownCpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

/**
 * A reader of the CPU time (ms) of the PostgreSQL processes that serve `database`
 * (its backends) and of the server's shared writers (WAL writer, checkpointer,
 * background writer), which other databases' work also lands on. A backend that
 * has ended keeps its last reading, so the total never goes back.
 */
export function postgresCpu(pool: pg.Pool, database: string): () => Promise<number> {
  const seen = new Map<number, number>();
  return async () => {
    const { rows } = await pool.query<{ pid: number }>(
      `SELECT pid FROM pg_stat_activity
        WHERE datname = $1 OR backend_type IN ('walwriter', 'checkpointer', 'background writer')`,
      [database],
    );
    for (const { pid } of rows) {
      const ms = await cpuMsOf(pid);
      if (ms > (seen.get(pid) ?? 0)) seen.set(pid, ms);
    }
    let total = 0;
    for (const ms of seen.values()) total += ms;
    return total;
  };
}

/** One function that reads every named reader: a snapshot of CPU ms by process. */
export function cpuReaders(readers: Record<string, () => Promise<number>>): () => Promise<Record<string, number>> {
  return async () => {
    const out: Record<string, number> = {};
    for (const [name, read] of Object.entries(readers)) out[name] = await read();
    return out;
  };
}

/** CPU ms per item by process between two snapshots, with their total. */
export function perJob(before: Record<string, number>, after: Record<string, number>, items: number): Record<string, number> {
  const out: Record<string, number> = {};
  let total = 0;
  for (const name of Object.keys(before)) {
    out[name] = (after[name]! - before[name]!) / Math.max(1, items);
    total += out[name]!;
  }
  out.total = total;
  return out;
}
