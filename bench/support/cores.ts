// Processes pinned to cores with taskset (util-linux), for benches that model
// two machines on one: every thread of each process, and what it starts later.
import { execFile } from 'node:child_process';
import { cpus } from 'node:os';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** Every core of this machine, as taskset writes a list ("0-1"). */
export const allCores = (): string => `0-${cpus().length - 1}`;

/** Pins every thread of each of `pids` to `cores` (a taskset list: "0", "1-3"). */
export async function pinToCores(pids: number[], cores: string): Promise<void> {
  for (const pid of pids) await run('taskset', ['-a', '-c', '-p', cores, String(pid)]);
}

/** The PostgreSQL server's processes (the postmaster and its backends): new backends inherit the postmaster's cores. */
export async function postgresPids(): Promise<number[]> {
  const { stdout } = await run('pgrep', ['-x', 'postgres']).catch(() => ({ stdout: '' }));
  return stdout.split('\n').filter(Boolean).map(Number);
}
