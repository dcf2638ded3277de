// What is running in an embedded data directory. PostgreSQL writes
// `postmaster.pid` (pid, data directory, start time, port, …) while it runs; a
// Swapyard process that started the server writes `embedded-pg.owner` (its own
// pid and start time). A server whose owner is gone was left by a crash and may
// be stopped; a pid is signalled only once it is proven to be a postgres of
// this very data directory, never because a number in a file says so.
import { execFileSync } from 'node:child_process';
import { readFileSync, realpathSync } from 'node:fs';
import { basename, join } from 'node:path';

export interface PostmasterPid {
  pid: number;
  port: number;
}

/** The server's own record (PostgreSQL's documented lock file layout: line 1 pid, line 4 port). */
export function readPostmasterPid(databaseDir: string): PostmasterPid | null {
  let text: string;
  try {
    text = readFileSync(join(databaseDir, 'postmaster.pid'), 'utf8');
  } catch {
    return null;
  }
  const lines = text.split('\n');
  const pid = Number(lines[0]);
  const port = Number(lines[3]);
  return Number.isInteger(pid) && pid > 0 ? { pid, port: Number.isInteger(port) ? port : 0 } : null;
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists but belongs to another user.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The process's argv, from /proc on Linux and `ps` elsewhere; null when it is gone. */
function commandLine(pid: number): string[] | null {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
  } catch {
    try {
      const out = execFileSync('ps', ['-o', 'command=', '-p', String(pid)], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
      return out ? out.split(/\s+/) : null;
    } catch {
      return null;
    }
  }
}

/**
 * When the process started, as an opaque string that differs between two
 * processes that had the same pid (field 22 of /proc/<pid>/stat, or `ps`'s
 * lstart); null when it is gone.
 */
export function processStartTime(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) is in parentheses and may hold spaces.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? null;
  } catch {
    try {
      return execFileSync('ps', ['-o', 'lstart=', '-p', String(pid)], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim() || null;
    } catch {
      return null;
    }
  }
}

function samePath(a: string, b: string): boolean {
  try {
    return realpathSync(a) === realpathSync(b);
  } catch {
    return false;
  }
}

/** True only for a running `postgres -D <databaseDir> …`. */
export function isPostgresOf(pid: number, databaseDir: string): boolean {
  const argv = commandLine(pid);
  if (!argv?.length || !basename(argv[0]!).startsWith('postgres')) return false;
  const d = argv.indexOf('-D');
  return d >= 0 && argv[d + 1] !== undefined && samePath(argv[d + 1]!, databaseDir);
}

export interface Owner {
  pid: number;
  startTime: string;
}

export const OWNER_FILE = 'embedded-pg.owner';

export function readOwner(dataDir: string): Owner | null {
  try {
    const owner = JSON.parse(readFileSync(join(dataDir, OWNER_FILE), 'utf8')) as Owner;
    return Number.isInteger(owner.pid) && typeof owner.startTime === 'string' ? owner : null;
  } catch {
    return null;
  }
}

export function ownerRecord(): Owner {
  return { pid: process.pid, startTime: processStartTime(process.pid) ?? '' };
}

/** The recorded owner is this very process still running (not a later process that got its pid). */
export function ownerIsAlive(owner: Owner | null): owner is Owner {
  return owner !== null && isAlive(owner.pid) && processStartTime(owner.pid) === owner.startTime;
}

export type DataDirState =
  | { state: 'free' }
  /** A postgres of this data directory whose owner still runs (another `npm start`, a CLI command). */
  | { state: 'running'; pid: number; port: number; owner: Owner | null }
  /** A postgres of this data directory whose owner is gone: left by a crash. */
  | { state: 'orphaned'; pid: number; port: number }
  /** postmaster.pid names a pid that is alive but is not a postgres of this directory (a reused pid). */
  | { state: 'stale-lock'; pid: number };

export function inspectDataDir(dataDir: string, databaseDir: string): DataDirState {
  const lock = readPostmasterPid(databaseDir);
  if (!lock || !isAlive(lock.pid)) return { state: 'free' }; // PostgreSQL itself replaces a lock file of a dead pid
  if (!isPostgresOf(lock.pid, databaseDir)) return { state: 'stale-lock', pid: lock.pid };
  const owner = readOwner(dataDir);
  return ownerIsAlive(owner) && owner.pid !== process.pid
    ? { state: 'running', pid: lock.pid, port: lock.port, owner }
    : { state: 'orphaned', pid: lock.pid, port: lock.port };
}
