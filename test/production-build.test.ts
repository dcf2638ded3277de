// `npm run build` and the compiled entry the container runs (node
// dist/src/main.js): it must compile, find its migrations from dist/, and
// serve the same API, or production would rot unnoticed behind the tsx runs.
import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { createTestDatabase } from './support/db.js';
import { spawnNode, stopProcess } from './support/processes.js';
import { waitUntil } from './support/wait.js';
import { startEmulator, type Emulator } from '../src/emulator/index.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const cleanups: Array<() => Promise<void>> = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
});

describe('the compiled service', () => {
  it('builds, migrates a fresh database from dist/, and runs a job to COMPLETED', async () => {
    const build = spawnSync(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json'], { cwd: ROOT, encoding: 'utf8' });
    expect(build.stdout + build.stderr).toBe('');
    expect(build.status).toBe(0);

    const databaseUrl = await createTestDatabase({ empty: true });
    const emulator: Emulator = await startEmulator({ latencyMs: { sync: 5, queueStep: 30, workflowStep: 30 } });
    cleanups.push(() => emulator.close());
    const dataDir = await mkdtemp(join(tmpdir(), 'swapyard-dist-'));
    cleanups.push(() => rm(dataDir, { recursive: true, force: true }));
    const child = await spawnNode(['dist/src/main.js'], {
      DATABASE_URL: databaseUrl, SEGMIND_BASE_URL: emulator.url, SWAPYARD_DATA_DIR: dataDir, PORT: '0', SWAPYARD_PROVIDER: 'segmind',
    }, /Swapyard GraphQL API: (http:\/\/\S+)/);
    cleanups.push(() => stopProcess(child));
    const url = child.ready[1]!;
    const key = (await readFile(join(dataDir, 'api-key'), 'utf8')).trim();
    const gql = async (query: string, variables?: unknown) => (await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
      body: JSON.stringify({ query, variables }),
    })).json() as Promise<any>;
    const created = await gql(`mutation($input: CreateFaceswapV4JobInput!) { createFaceswapV4Job(input: $input) { ... on FaceswapV4Job { id } } }`,
      { input: { sourceImage: 'https://example.com/a.jpg', targetImage: 'https://example.com/b.png' } });
    const id = created.data.createFaceswapV4Job.id;
    let status = '';
    await waitUntil(
      async () => (status = (await gql(`query($id: ID!) { job(id: $id) { status } }`, { id })).data.job.status) === 'COMPLETED',
      () => `job ${id} is ${status}; service output:\n${child.output()}`,
      { everyMs: 100 },
    );
  });
});
