// One configuration for every entry point: with nothing but the same data
// directory (no DATABASE_URL, no flags), `npm run db:migrate`, `keys:create`,
// `keys:list`, `keys:revoke`, `npm start` and `npm run worker` all work on the
// same database, as real child processes run through npm.
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readPostmasterPid } from '../src/db/postmaster-process.js';
import { waitUntil } from './support/wait.js';
import {
  exited, gqlAs, newInstallation, readyLine, runScript, startApi, stopEntry, type Installation,
} from './support/entry-points.js';

const cleanups: Array<() => Promise<unknown>> = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => {});
});

async function run(inst: Installation, script: string, args: string[] = []) {
  return exited(runScript(script, args, inst.env));
}

describe('every entry point finds the same database without flags', () => {
  it('db:migrate and keys:create before the service, keys:list and a worker beside it, keys:revoke after', async () => {
    const inst = await newInstallation();
    cleanups.push(() => inst.remove());

    // A worker has nothing to join before the service runs: it says so, and how to fix it.
    const early = await run(inst, 'worker');
    expect(early.code).toBe(1);
    expect(early.output).toContain('is not running');
    expect(early.output).toContain('Fix: `npm start` runs it');

    // Nothing runs yet: the CLIs start the embedded server for their own run, and stop it.
    const migrate = await run(inst, 'db:migrate');
    expect(migrate.output).toMatch(/Applied \d+ migration\(s\)/);
    expect(migrate.code).toBe(0);
    const created = await run(inst, 'keys:create', ['ops-cli', '--admin']);
    expect(created.code).toBe(0);
    const cliKey = /^(sy_\S+)$/m.exec(created.output)?.[1];
    expect(cliKey, created.output).toBeTruthy();
    expect(readPostmasterPid(join(inst.dataDir, 'pg'))).toBeNull();

    // The service finds the database and the key the CLI made (so it makes no first key of its own).
    const api = await startApi(inst);
    cleanups.push(() => stopEntry(api.child));
    expect(api.child.output()).not.toContain('Created the first API key');
    expect((await gqlAs(api.url, cliKey!, '{ viewer { name } }')).data.viewer.name).toBe('ops-cli');
    const second = await run(inst, 'keys:create', ['ops-second']);
    const secondKey = /^(sy_\S+)$/m.exec(second.output)?.[1];
    expect((await gqlAs(api.url, secondKey!, '{ viewer { name } }')).data.viewer.name).toBe('ops-second');

    // Beside it, the CLIs join its server.
    const listed = await run(inst, 'keys:list');
    expect(listed.code).toBe(0);
    expect(listed.output).toMatch(/ ops-cli +sy_\S+ +yes /);
    expect(listed.output).toMatch(/ ops-second +sy_\S+ +no /);
    const migrateAgain = await run(inst, 'db:migrate');
    expect(migrateAgain.output).toContain('No pending migrations');

    // A worker joins it too and runs a job the API takes.
    const worker = runScript('worker', [], inst.env);
    cleanups.push(() => stopEntry(worker));
    await readyLine(worker, /Worker \S+ running/);
    const adminKey = secondKey!;
    const made = await gqlAs(api.url, adminKey,
      'mutation { createFaceswapV4Job(input: { sourceImage: "https://example.com/a.jpg", targetImage: "https://example.com/b.jpg", provider: SEGMIND }) { __typename ... on FaceswapV4Job { id } } }');
    const id = made.data.createFaceswapV4Job.id;
    await waitUntil(
      async () => (await gqlAs(api.url, adminKey, `{ job(id: "${id}") { status } }`)).data.job.status === 'COMPLETED',
      () => `job not completed; worker said:\n${worker.output()}\nAPI said:\n${api.child.output()}`,
    );

    const revoked = await run(inst, 'keys:revoke', ['ops-second']);
    expect(revoked.code).toBe(0);
    expect(revoked.output).toContain('Revoked API key "ops-second"');
    const refused = await fetch(api.url, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${secondKey}` }, body: '{"query":"{ viewer { id } }"}' });
    expect(refused.status).toBe(401);
  });
});
