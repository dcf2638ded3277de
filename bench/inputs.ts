// Inline image inputs and nested reads (issue 13): what one read of a job with
// two large inline images costs the API process, and how long the nested
// events query takes as it deepens.
//   1. jobs with two `--mib` MiB inline PNGs each (source and target) are
//      created and run (emulator); then `job(id)` selecting its images and
//      parameters is read: the response's size, and the API's resident memory
//      before the read and at its peak (VmHWM) after it;
//   2. `jobs(first: 3) { edges { node { events { job { events { job … } } } } } }`
//      is timed at each depth up to `--depth`; a read slower than
//      `--timeout` seconds, or one the API dies of, ends the series.
//
//   npm run bench:inputs [-- --smoke] [--mib 9] [--depth 5] [--timeout 60]
import { performance } from 'node:perf_hooks';
import { readFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import sharp from 'sharp';
import { createBenchDatabase } from './support/db.js';
import { startApiProcess, startEmulatorProcess, type Proc } from './support/processes.js';
import { hasFlag, load, log, machine, numArg, printJson, table, type Row } from './support/report.js';

const smoke = hasFlag('smoke');
const mib = numArg('mib', smoke ? 0.2 : 9);
const maxDepth = numArg('depth', smoke ? 2 : 5);
const timeoutS = numArg('timeout', 60);

/** A PNG of random noise (incompressible) of about `bytes` bytes. */
async function noisePng(bytes: number): Promise<Buffer> {
  const side = Math.floor(Math.sqrt(bytes / 3));
  return sharp(randomBytes(side * side * 3), { raw: { width: side, height: side, channels: 3 } }).png({ compressionLevel: 0 }).toBuffer();
}

async function peakRss(pid: number): Promise<{ rss: number; hwm: number } | null> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => null);
  if (status === null) return null; // the process is gone
  const kb = (name: string) => Number(new RegExp(`${name}:\\s+(\\d+)`).exec(status)?.[1]) * 1024;
  return { rss: kb('VmRSS'), hwm: kb('VmHWM') };
}

/** events { job { events { job { … { id } } } } } nested `depth` times. */
function nested(depth: number): string {
  let inner = 'id status';
  for (let i = 0; i < depth; i++) inner = `events { status job { ${inner} } }`;
  return `{ jobs(first: 3) { edges { node { ${inner} } } } }`;
}

const m = await machine();
const db = await createBenchDatabase('inputs');
const procs: Proc[] = [];
const MiB = 1024 * 1024;
try {
  const emulator = await startEmulatorProcess();
  procs.push(emulator);
  const api = await startApiProcess({
    databaseUrl: db.url, emulatorUrl: emulator.url, embeddedWorker: true, fast: true,
    env: { MAX_IMAGE_BYTES: String(Math.ceil((mib + 1) * MiB)), MAX_BODY_BYTES: String(Math.ceil((mib * 3 + 4) * MiB)) },
  });
  procs.push(api);
  const gql = async (query: string, variables?: unknown, timeoutMs = timeoutS * 1000) => {
    const res = await fetch(`${api.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${api.key}` },
      body: JSON.stringify({ query, variables }),
      signal: AbortSignal.timeout(timeoutMs),
    });
    const text = await res.text();
    return { status: res.status, bytes: Buffer.byteLength(text), body: JSON.parse(text) };
  };
  // Does this version expose images as objects (ImageInput) or as strings?
  const intro = await gql(`{ __type(name: "FaceswapV4Job") { fields { name type { kind ofType { kind } } } } }`);
  const sourceField = intro.body.data.__type.fields.find((f: { name: string }) => f.name === 'sourceImage');
  const imagesAsObjects = (sourceField.type.ofType?.kind ?? sourceField.type.kind) === 'OBJECT';
  const imageSel = imagesAsObjects ? '{ url sha256 bytes }' : '';

  log(`making two ${mib} MiB PNGs`);
  const [source, target] = await Promise.all([noisePng(mib * MiB), noisePng(mib * MiB)]);
  const input = {
    sourceImage: `data:image/png;base64,${source!.toString('base64')}`,
    targetImage: target!.toString('base64'),
    swapType: 'FACE',
  };
  const ids: string[] = [];
  for (let i = 0; i < 3; i++) {
    const res = await gql(`mutation($input: CreateFaceswapV4JobInput!) { createFaceswapV4Job(input: $input) { __typename ... on FaceswapV4Job { id } ... on InvalidInputError { message } } }`, { input: { ...input, seed: i } });
    const id = res.body.data?.createFaceswapV4Job?.id;
    if (!id) throw new Error(`create failed: ${JSON.stringify(res.body).slice(0, 500)}`);
    ids.push(id);
  }
  for (const id of ids) {
    const deadline = Date.now() + 120_000;
    for (;;) {
      const res = await gql(`query($id: ID!) { job(id: $id) { status } }`, { id });
      if (['COMPLETED', 'FAILED'].includes(res.body.data?.job?.status)) break;
      if (Date.now() > deadline) throw new Error(`job ${id} not final: ${JSON.stringify(res.body)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  const pool = db.pool(1);
  const { rows: [sizes] } = await pool.query(`SELECT sum(pg_column_size(params))::bigint AS params_bytes FROM jobs`);
  await pool.end();

  // 1. One read of a job with its images and parameters.
  const before = await peakRss(api.pid);
  const t0 = performance.now();
  const read = await gql(`query($id: ID!) { job(id: $id) { id ... on FaceswapV4Job { sourceImage ${imageSel} targetImage ${imageSel} } parameters } }`, { id: ids[0] });
  const readMs = performance.now() - t0;
  const after = await peakRss(api.pid);
  const readRow: Row = {
    'input MiB': mib, 'params in DB (KiB, 3 jobs)': Number((Number(sizes.params_bytes) / 1024).toFixed(1)),
    'response bytes': read.bytes, 'read ms': Number(readMs.toFixed(1)),
    'RSS before MiB': Math.round(before!.rss / MiB), 'RSS after MiB': Math.round(after!.rss / MiB), 'peak RSS MiB': Math.round(after!.hwm / MiB),
    load: load(),
  };
  console.log(table('one read of a job with two inline images', [readRow]));

  // 2. The nested events query, deeper and deeper.
  const nestedRows: Row[] = [];
  for (let depth = 1; depth <= maxDepth; depth++) {
    const t1 = performance.now();
    let outcome: string;
    let bytes = 0;
    try {
      const res = await gql(nested(depth));
      bytes = res.bytes;
      outcome = res.body.errors ? `errors: ${res.body.errors[0].message}` : 'ok';
    } catch (err) {
      outcome = api.child.exitCode !== null || api.child.signalCode !== null
        ? `API died (${api.child.signalCode ?? api.child.exitCode})` : `no answer: ${(err as Error).message}`;
    }
    const ms = performance.now() - t1;
    const rss = await peakRss(api.pid);
    if (!rss) outcome = `API died (${api.child.signalCode ?? api.child.exitCode ?? 'gone'}): ${outcome}`;
    nestedRows.push({ depth, ms: Number(ms.toFixed(1)), 'response bytes': bytes, 'peak RSS MiB': rss ? Math.round(rss.hwm / MiB) : '-', outcome, load: load() });
    log(`depth ${depth}: ${ms.toFixed(0)} ms, ${outcome}`);
    if (outcome !== 'ok') break;
  }
  console.log(table('nested events query: jobs(first: 3) { … events { job { events { job … } } } }', nestedRows));
  printJson('inputs', { smoke, machine: m, imagesAsObjects, read: readRow, nested: nestedRows });
} finally {
  for (const p of procs.reverse()) await p.stop().catch(() => {});
  await db.drop();
}
