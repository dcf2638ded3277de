// `npm start` after a crash: the API process is SIGKILLed (as the OOM killer
// does), its embedded PostgreSQL survives it holding the data directory, and
// the next start stops that server and starts its own. A pid in the lock file
// that is not a postgres of the directory is never signalled. Failed starts
// print their cause and fix, never `undefined`.
import { spawn } from 'node:child_process';
import { createServer, type Server } from 'node:net';
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readPostmasterPid, isAlive } from '../src/db/postmaster-process.js';
import {
  exited, firstKey, gqlAs, newInstallation, runEntry, startApi, stopEntry, type Installation,
} from './support/entry-points.js';
import { waitUntil } from './support/wait.js';

const cleanups: Array<() => Promise<unknown>> = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => {});
});

async function installation(): Promise<Installation> {
  const inst = await newInstallation();
  cleanups.push(() => inst.remove());
  return inst;
}

describe('npm start after a crash', () => {
  it('stops the embedded PostgreSQL a SIGKILLed API left running, starts, and answers queries', async () => {
    const inst = await installation();
    const first = await startApi(inst);
    cleanups.push(() => stopEntry(first.child));
    const key = await firstKey(inst);
    expect((await gqlAs(first.url, key, '{ viewer { id } }')).data.viewer.id).toBeTruthy();
    const server = readPostmasterPid(join(inst.dataDir, 'pg'))!;

    first.child.kill('SIGKILL');
    await exited(first.child);
    // The crash leaves the server running, holding the data directory.
    expect(isAlive(server.pid)).toBe(true);

    const second = await startApi(inst);
    cleanups.push(() => stopEntry(second.child));
    expect(second.child.output()).toContain(`Stopping the embedded PostgreSQL (pid ${server.pid}) left running`);
    expect(isAlive(server.pid)).toBe(false);
    const answer = await gqlAs(second.url, key, '{ viewer { id } jobs(first: 1) { edges { node { id } } } }');
    expect(answer.errors).toBeUndefined();
    expect(answer.data.viewer.id).toBeTruthy();

    // A clean stop stops its server and leaves no owner behind.
    const own = readPostmasterPid(join(inst.dataDir, 'pg'))!;
    await stopEntry(second.child);
    await waitUntil(() => !isAlive(own.pid), () => `postgres ${own.pid} still running`);
    expect(existsSync(join(inst.dataDir, 'embedded-pg.owner'))).toBe(false);
  });

  it('never signals a live process that postmaster.pid names but that is not a postgres of the directory', async () => {
    const inst = await installation();
    // A data directory whose lock file names an unrelated live process (a pid reused after a crash).
    const first = await startApi(inst);
    await stopEntry(first.child);
    const bystander = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
    cleanups.push(async () => bystander.kill('SIGKILL'));
    await writeFile(join(inst.dataDir, 'pg', 'postmaster.pid'), `${bystander.pid}\n${join(inst.dataDir, 'pg')}\n0\n${inst.env.EMBEDDED_PG_PORT}\n\n127.0.0.1\n0 0\nready\n`);

    const second = await startApi(inst);
    cleanups.push(() => stopEntry(second.child));
    expect(second.child.output()).toContain(`(pid ${bystander.pid} is not a PostgreSQL of this directory)`);
    expect(isAlive(bystander.pid!)).toBe(true);
    expect((await gqlAs(second.url, await firstKey(inst), '{ viewer { id } }')).data.viewer.id).toBeTruthy();

    // A second `npm start` on the same data directory while the first runs is refused with the cause and the fix.
    const third = runEntry(['--import', 'tsx', 'src/main.ts'], { ...inst.env, PORT: '0' });
    const { code, output } = await exited(third);
    expect(code).toBe(1);
    expect(output).toMatch(/Cannot start: the embedded PostgreSQL in \S+ \(pid \d+, port \d+\) is in use by another Swapyard process \(pid \d+\)/);
    expect(output).toMatch(/Fix: stop that process first, or give this one its own SWAPYARD_DATA_DIR/);
    expect(second.child.exitCode).toBeNull();
  });
});

describe('a failed start says its cause and its fix', () => {
  async function occupied(): Promise<{ server: Server; port: number }> {
    const server = createServer();
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    cleanups.push(() => new Promise((r) => server.close(r)));
    return { server, port: (server.address() as { port: number }).port };
  }

  it('the API port in use', async () => {
    const inst = await installation();
    const { port } = await occupied();
    const { code, output } = await exited(runEntry(['--import', 'tsx', 'src/main.ts'], { ...inst.env, PORT: String(port) }));
    expect(code).toBe(1);
    expect(output).toContain(`Cannot start: 127.0.0.1:${port} is already in use by another program.`);
    expect(output).toContain('Fix: stop that program, or set PORT to a free port.');
    expect(output).not.toMatch(/undefined|\n\s+at /);
    // What it started before failing (the embedded server) is stopped again.
    expect(readPostmasterPid(join(inst.dataDir, 'pg'))).toBeNull();
  });

  it('the embedded PostgreSQL port in use', async () => {
    const inst = await installation();
    const { port } = await occupied();
    const { code, output } = await exited(runEntry(['--import', 'tsx', 'src/main.ts'], { ...inst.env, EMBEDDED_PG_PORT: String(port) }));
    expect(code).toBe(1);
    expect(output).toContain(`Cannot start: port ${port} on 127.0.0.1, which the embedded PostgreSQL listens on, is in use by another program`);
    expect(output).toContain('Fix: stop that program or set EMBEDDED_PG_PORT to a free port');
    expect(output).not.toMatch(/undefined|\n\s+at /);
  });

  it('a bad setting', async () => {
    const inst = await installation();
    await mkdir(inst.dataDir, { recursive: true });
    const { code, output } = await exited(runEntry(['--import', 'tsx', 'src/main.ts'], { ...inst.env, WORKER_CONCURRENCY: 'lots' }));
    expect(code).toBe(1);
    expect(output).toContain('Cannot start: WORKER_CONCURRENCY must be an integer ≥ 1, got "lots"');
    expect(output).toContain('Fix:');
    expect(output).not.toMatch(/undefined|\n\s+at /);
  });
});
