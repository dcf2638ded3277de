// HAProxy (Debian's haproxy) in front of API processes, as a team deploys it:
// round robin, so consecutive connections land on alternate APIs, health checks
// on /healthz so a dead API is out after two failed checks, and WebSocket
// tunnels kept open. Used by test/topology.test.ts and bench/scaling.ts.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { freePort } from './entry-points.js';
import { stopProcess } from './processes.js';
import { PROCESS_START_MS, waitUntil } from './wait.js';

/** The haproxy binary (HAPROXY_BIN, then Debian's paths), or null when none runs. */
export function findHaproxy(): string | null {
  for (const path of [process.env.HAPROXY_BIN, '/usr/sbin/haproxy', '/usr/bin/haproxy'].filter(Boolean) as string[]) {
    if (spawnSync(path, ['-v']).status === 0) return path;
  }
  return null;
}

export const HAPROXY_MISSING = 'no haproxy binary (apt-get install haproxy, or set HAPROXY_BIN)';

export function haproxyConfig(port: number, backends: URL[]): string {
  return [
    'global', '  maxconn 2000',
    // A health check may take seconds on a busy machine: with the default (its interval), both
    // APIs were marked down under load and HAProxy answered 503 for want of a server.
    'defaults', '  mode http', '  timeout connect 2s', '  timeout client 120s', '  timeout server 120s', '  timeout tunnel 1h', '  timeout check 5s',
    '  option redispatch', '  retries 3',
    'frontend swapyard', `  bind 127.0.0.1:${port}`, '  default_backend apis',
    'backend apis', '  balance roundrobin', '  option httpchk GET /healthz',
    ...backends.map((u, i) => `  server api${i} ${u.hostname}:${u.port} check inter 500 fall 3 rise 2`),
    '',
  ].join('\n');
}

export interface Haproxy {
  url: string;
  child: ChildProcess;
  output(): string;
  stop(): Promise<void>;
}

/**
 * Starts `bin` in front of the API base URLs, its config written into `dir`;
 * resolves once /healthz answers through it.
 */
export async function startHaproxy(bin: string, backends: string[], dir: string): Promise<Haproxy> {
  const port = await freePort();
  const file = join(dir, 'haproxy.cfg');
  await writeFile(file, haproxyConfig(port, backends.map((b) => new URL(b))));
  const child = spawn(bin, ['-db', '-f', file], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.on('data', (d) => (output += d));
  child.stderr!.on('data', (d) => (output += d));
  const url = `http://127.0.0.1:${port}`;
  const proxy = { url, child, output: () => output, stop: () => stopProcess(child) };
  try {
    await waitUntil(
      async () => (await fetch(`${url}/healthz`).then((r) => r.ok, () => false)) || undefined,
      () => `haproxy to answer /healthz on ${url}; its output: ${output}`,
      { timeoutMs: PROCESS_START_MS },
    );
  } catch (err) {
    await proxy.stop();
    throw err;
  }
  return proxy;
}
