// Scaling out on one PostgreSQL: layout (a) 1 API + 1 worker process against
// layout (b) 2 APIs + 2 worker processes with HAProxy in front of the APIs
// (Debian's haproxy, the same configuration as test/topology.test.ts). One
// emulator (answering instantly) for the whole run; each layout run on a fresh
// database; runs interleaved a, b, a, b… (`--pairs`), so both see the same
// machine. Per run:
// 1. drain: `--backlog` jobs queued over HTTP through the entry (API or proxy)
//    before the workers start, then the workers drain them: jobs/s from the
//    first COMPLETED to the last, on the database's clock;
// 2. submissions: with the workers stopped, createFaceswapV4Job over HTTP through
//    the entry from `--clients` keep-alive clients (closed loop, as
//    bench/submissions.ts), for `--seconds` after `--warmup`.
// Prints each run, the mean per layout and the ratios (b)/(a).
//
//   npm run bench:scaling [-- --smoke] [--pairs 2] [--clients 50] [--seconds 10] [--warmup 3] [--backlog 3000]
import pg from 'pg';
import { findHaproxy, HAPROXY_MISSING, startHaproxy, type Haproxy } from '../test/support/haproxy.js';
import { waitUntil } from '../test/support/wait.js';
import { createBenchDatabase } from './support/db.js';
import { closedLoop, graphqlClient, type LoadResult } from './support/load.js';
import { startApiProcess, startEmulatorProcess, startWorkerProcess, type Api, type Emulator, type Proc } from './support/processes.js';
import { hasFlag, load, log, machine, numArg, printJson, table, type Row } from './support/report.js';
import { queueBacklog, submitSwapJob } from './support/swap-jobs.js';
import { jobUuid } from './support/ws.js';

const smoke = hasFlag('smoke');
const pairs = numArg('pairs', smoke ? 1 : 2);
const clients = numArg('clients', smoke ? 2 : 50);
const seconds = numArg('seconds', smoke ? 0.5 : 10);
const warmup = numArg('warmup', smoke ? 0.2 : 3);
const backlog = numArg('backlog', smoke ? 10 : 3000);

const LAYOUTS = { a: { apis: 1, workers: 1 }, b: { apis: 2, workers: 2 } } as const;
type Layout = keyof typeof LAYOUTS;

interface Drain { jobs: number; failed: number; seconds: number; perSecond: number }
interface Run { layout: Layout; pair: number; apis: number; workers: number; drain: Drain; drainLoad1: number; submissions: LoadResult; submissionsLoad1: number }

const haproxyBin = findHaproxy();
if (!haproxyBin) {
  const banner = '*'.repeat(78);
  process.stderr.write(`\n${banner}\n*** bench:scaling: ${HAPROXY_MISSING}.\n*** Layout (b), 2 APIs + 2 workers behind HAProxy, is SKIPPED: no ratio (b)/(a).\n${banner}\n\n`);
}
const layouts: Layout[] = haproxyBin ? ['a', 'b'] : ['a'];

/** The backlog's drain rate, from the COMPLETED events' transaction starts (database clock). */
async function drainOf(pool: pg.Pool, ids: string[]): Promise<Drain> {
  const uuids = ids.map(jobUuid);
  await waitUntil(async () => {
    const { rows } = await pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM jobs WHERE id = ANY($1::uuid[]) AND status IN ('COMPLETED', 'FAILED')`, [uuids]);
    return rows[0]!.n === ids.length || undefined;
  }, () => `the ${ids.length} queued jobs to finish`, { timeoutMs: 30 * 60_000, everyMs: 100 });
  const { rows: [r] } = await pool.query<{ first: number; last: number; completed: number }>(
    `SELECT extract(epoch FROM min(created_at)) AS first, extract(epoch FROM max(created_at)) AS last, count(*)::int AS completed
     FROM job_events WHERE job_id = ANY($1::uuid[]) AND status = 'COMPLETED'`,
    [uuids],
  );
  const span = Number(r!.last) - Number(r!.first);
  return { jobs: ids.length, failed: ids.length - r!.completed, seconds: span, perSecond: span > 0 ? (r!.completed - 1) / span : 0 };
}

async function runLayout(emulator: Emulator, layout: Layout, pair: number): Promise<Run> {
  const { apis: apiCount, workers: workerCount } = LAYOUTS[layout];
  const db = await createBenchDatabase(`scaling_${layout}`);
  const pool = db.pool(2);
  const procs: Proc[] = [];
  let proxy: Haproxy | null = null;
  try {
    log(`(${layout}) pair ${pair}: starting ${apiCount} API(s)`);
    // The first API creates the key and the data directory; a second one shares both, as a deployment does.
    const first = await startApiProcess({ databaseUrl: db.url, emulatorUrl: emulator.url });
    const apis: Api[] = [first];
    for (let i = 1; i < apiCount; i++) apis.push(await startApiProcess({ databaseUrl: db.url, emulatorUrl: emulator.url, sharedDataDir: first.dataDir }));
    procs.push(...apis.slice(1), first); // the first API, owner of the data directory, stops last
    if (apiCount > 1) proxy = await startHaproxy(haproxyBin!, apis.map((a) => a.url), first.dataDir);
    const entry = proxy?.url ?? first.url;
    const http = graphqlClient(entry, Math.max(clients, 1));
    try {
      log(`(${layout}) queueing ${backlog} jobs through ${proxy ? 'HAProxy' : 'the API'}`);
      const ids = await queueBacklog(backlog, clients, () => submitSwapJob(http, first.key));
      log(`(${layout}) starting ${workerCount} worker(s)`);
      const workers = await Promise.all(Array.from({ length: workerCount }, () => startWorkerProcess({ databaseUrl: db.url, emulatorUrl: emulator.url, dataDir: first.dataDir })));
      const drain = await drainOf(pool, ids);
      const drainLoad1 = load();
      log(`(${layout}) drain: ${drain.perSecond.toFixed(1)} jobs/s`);
      await Promise.all(workers.map((w) => w.stop()));

      const call = async () => void (await submitSwapJob(http, first.key));
      log(`(${layout}) submissions: warm-up ${warmup}s, then ${seconds}s with ${clients} clients`);
      await closedLoop(clients, warmup, call);
      const submissions = await closedLoop(clients, seconds, call);
      if (submissions.errors) log(`(${layout}) submissions: ${submissions.errors} errors, first: ${submissions.firstError}`);
      log(`(${layout}) submissions: ${submissions.perSecond.toFixed(1)}/s`);
      return { layout, pair, apis: apiCount, workers: workerCount, drain, drainLoad1, submissions, submissionsLoad1: load() };
    } finally {
      await http.close();
    }
  } finally {
    await proxy?.stop();
    for (const p of procs) await p.stop().catch(() => {});
    await pool.end();
    await db.drop();
  }
}

const m = await machine();
const emulator = await startEmulatorProcess();
const runs: Run[] = [];
try {
  for (let pair = 1; pair <= pairs; pair++) {
    for (const layout of layouts) runs.push(await runLayout(emulator, layout, pair));
  }
} finally {
  await emulator.stop();
}

const mean = (xs: number[]) => xs.reduce((s, x) => s + x, 0) / xs.length;
const means = Object.fromEntries(layouts.map((l) => {
  const of = runs.filter((r) => r.layout === l);
  return [l, { submissionsPerSecond: mean(of.map((r) => r.submissions.perSecond)), drainPerSecond: mean(of.map((r) => r.drain.perSecond)) }];
})) as Partial<Record<Layout, { submissionsPerSecond: number; drainPerSecond: number }>>;
const ratios = means.a && means.b
  ? { submissionsBOverA: means.b.submissionsPerSecond / means.a.submissionsPerSecond, drainBOverA: means.b.drainPerSecond / means.a.drainPerSecond }
  : null;

const rows: Row[] = runs.map((r) => ({
  run: `(${r.layout}) ${r.apis} API + ${r.workers} worker, pair ${r.pair}`,
  'submissions/s': Number(r.submissions.perSecond.toFixed(1)),
  'submit p50 ms': r.submissions.latencyMs.p50,
  'submit p99 ms': r.submissions.latencyMs.p99,
  errors: r.submissions.errors,
  [`drain jobs/s (${backlog})`]: Number(r.drain.perSecond.toFixed(1)),
  'load1 (submit)': r.submissionsLoad1,
  'load1 (drain)': r.drainLoad1,
}));
console.log(`\nScaling on one PostgreSQL — instant emulator, ${clients} clients; ${m.cpus}× ${m.cpuModel}, Node ${m.node}, PostgreSQL ${m.postgres}`);
console.log(table('', rows));
if (ratios) {
  console.log(`ratio (b)/(a), means over ${pairs} pair(s): submissions ${ratios.submissionsBOverA.toFixed(2)}×, drain ${ratios.drainBOverA.toFixed(2)}×`);
} else {
  console.log(`layout (b) SKIPPED: ${HAPROXY_MISSING}; no ratio`);
}
printJson('scaling', { smoke, pairs, clients, seconds, warmup, backlog, haproxy: haproxyBin !== null, machine: m, runs, means, ratios });
