// Figure group 2: end-to-end overhead and pipeline throughput, with the
// emulator answering instantly and 2 worker processes (production cadences).
//
// Overhead of a job = (COMPLETED event received by a graphql-ws subscriber − mutation sent)
//                     − the upstream's own time for that job (the emulator's server-side time of
//                       the submission whose body is the job's params, from /__emulator/stats).
// 1. latency: one job at a time (no queueing), `--jobs` jobs after a warm-up;
// 2. under load: `--clients` clients submit for `--seconds`; overhead p50/p99 of those jobs,
//    and completions per second in the steady window;
// 3. drain: a backlog of `--backlog` queued jobs, then the 2 workers start: jobs/s from the
//    first COMPLETED to the last (the pipeline's capacity, submission excluded);
// 4. steady: jobs submitted open-loop at `--steady-share` (0.8) of that drain rate for
//    `--steady-seconds`, each at its own time whatever the answers do; a job's wait
//    (QUEUED → SUBMITTED on the database clock: in the queue until a worker took it) and
//    its overhead, p50/p99;
//    then the peer: graphile-worker (one process, concurrency `--gw-concurrency`, its own
//    schema of the same database) drains as many jobs doing the same work per job (the same
//    POST to the emulator, a sha256 of the answer, a file write, one query), and as many
//    no-op jobs; printed with the ratio swapyard / graphile-worker.
//
//   npm run bench:overhead [-- --smoke] [--jobs 300] [--clients 16] [--seconds 10] [--backlog 3000] [--gw-concurrency 8]
//                          [--steady-share 0.8] [--steady-seconds 10]
import { performance } from 'node:perf_hooks';
import { fingerprint } from '../src/emulator/index.js';
import { isImageRef } from '../src/models/image-ref.js';
import { cpuMsOf, cpuReaders, ownCpuMs, perJob, postgresCpu } from './support/cpu.js';
import { createBenchDatabase, withAdmin } from './support/db.js';
import { graphqlClient } from './support/load.js';
import { spawnTs, startApiProcess, startEmulatorProcess, startWorkerProcess, type Proc } from './support/processes.js';
import { hasFlag, load, log, machine, numArg, printJson, table, type Row } from './support/report.js';
import { summarize } from './support/stats.js';
import { queueBacklog, submitSwapJob } from './support/swap-jobs.js';
import { jobUuid, wsClient } from './support/ws.js';

const smoke = hasFlag('smoke');
const sequentialJobs = numArg('jobs', smoke ? 5 : 300);
const warmJobs = numArg('warmup-jobs', smoke ? 2 : 50);
const clients = numArg('clients', smoke ? 2 : 16);
const seconds = numArg('seconds', smoke ? 0.5 : 10);
const backlog = numArg('backlog', smoke ? 10 : 3000);
const workers = numArg('workers', smoke ? 1 : 2);
const gwConcurrency = numArg('gw-concurrency', 8);
const steadyShare = numArg('steady-share', 0.8);
const steadySeconds = numArg('steady-seconds', smoke ? 0.5 : 10);
/** Diagnostic: a fixed rate (jobs/s) for the steady phase instead of its share of the drain, to compare trees at one load. */
const steadyFixedRate = numArg('steady-rate', 0);
/** Diagnostic only: `--async-commit` sets synchronous_commit = off on the bench database, to show what commit latency costs. */
const asyncCommit = hasFlag('async-commit');

const SUBSCRIPTION = `subscription { jobsUpdated(filter: { status: [COMPLETED, FAILED] }) { status job { __typename ... on SwapJob { id } } } }`;

const m = await machine();
log('creating the database');
const db = await createBenchDatabase('overhead');
if (asyncCommit) await withAdmin((c) => c.query(`ALTER DATABASE "${db.name}" SET synchronous_commit = off`));
log('starting emulator, API');
const procs: Proc[] = [];
const pool = db.pool(4);
const pgCpu = postgresCpu(pool, db.name);
try {
  const emulator = await startEmulatorProcess();
  procs.push(emulator);
  const api = await startApiProcess({ databaseUrl: db.url, emulatorUrl: emulator.url });
  procs.push(api);
  const startWorkers = async () => {
    const ws = await Promise.all(Array.from({ length: workers }, () => startWorkerProcess({ databaseUrl: db.url, emulatorUrl: emulator.url, dataDir: api.dataDir })));
    procs.push(...ws);
    return ws;
  };
  const http = graphqlClient(api.url, Math.max(clients, 1));

  // One subscriber hears every COMPLETED/FAILED event of the key.
  let onDone: (() => void) | null = null;
  const done = new Map<string, { at: number; status: string }>();
  const waiters = new Map<string, () => void>();
  const ws = wsClient(api.wsUrl, api.key, { lazy: false });
  await new Promise<void>((resolve, reject) => {
    ws.on('connected', () => resolve());
    ws.on('closed', (e) => reject(new Error(`ws closed ${JSON.stringify(e)}`)));
  });
  ws.subscribe<any>({ query: SUBSCRIPTION }, {
    next: (msg) => {
      const at = performance.now();
      const ev = msg.data?.jobsUpdated;
      if (!ev) return log(`subscription error: ${JSON.stringify(msg.errors)}`);
      done.set(ev.job.id, { at, status: ev.status });
      waiters.get(ev.job.id)?.();
      onDone?.();
    },
    error: (e) => log(`subscription error ${String(e)}`),
    complete: () => {},
  });
  await new Promise((r) => setTimeout(r, 200)); // the subscription is registered server-side

  const submitted = new Map<string, number>();
  async function submit(): Promise<string> {
    const t0 = performance.now();
    const id = await submitSwapJob(http, api.key);
    submitted.set(id, t0);
    return id;
  }
  function completion(id: string): Promise<void> {
    if (done.has(id)) return Promise.resolve();
    return new Promise((resolve) => waiters.set(id, resolve));
  }
  async function upstreamMsByFingerprint(): Promise<Map<string, number>> {
    const stats = await emulator.stats();
    const map = new Map<string, number>();
    for (const c of stats.calls) if (c.kind === 'submit' && c.fingerprint && c.ms !== undefined) map.set(c.fingerprint, c.ms);
    return map;
  }
  /** Overheads (ms) of the given jobs; also their upstream times. */
  async function overheads(ids: string[]) {
    const upstream = await upstreamMsByFingerprint();
    const { rows } = await pool.query<{ id: string; params: unknown }>(`SELECT id, params FROM jobs WHERE id = ANY($1::uuid[])`, [ids.map(jobUuid)]);
    const paramsOf = new Map(rows.map((r) => [r.id, r.params]));
    const e2e: number[] = [];
    const up: number[] = [];
    const over: number[] = [];
    let unmatched = 0;
    for (const id of ids) {
      const end = done.get(id);
      const u = upstream.get(fingerprint(paramsOf.get(jobUuid(id))));
      if (!end || u === undefined || end.status !== 'COMPLETED') {
        unmatched++;
        continue;
      }
      const total = end.at - submitted.get(id)!;
      e2e.push(total);
      up.push(u);
      over.push(total - u);
    }
    return { e2e: summarize(e2e), upstream: summarize(up), overhead: summarize(over), unmatched };
  }

  /**
   * Where the time goes, from the database's own clock: the event rows' created_at is
   * the start of the transaction that wrote them (now()), so QUEUED→SUBMITTED is the
   * worker's wake-up and claim, SUBMITTED→COMPLETED the upstream call, the artifact
   * store and the final transition (its commit excluded).
   */
  async function stages(ids: string[]) {
    const { rows } = await pool.query<{ queued_to_submitted: number; submitted_to_completed: number }>(
      `SELECT extract(epoch FROM s.created_at - q.created_at) * 1000 AS queued_to_submitted,
              extract(epoch FROM c.created_at - s.created_at) * 1000 AS submitted_to_completed
       FROM unnest($1::uuid[]) AS j(id)
       JOIN job_events q ON q.job_id = j.id AND q.status = 'QUEUED'
       JOIN job_events s ON s.job_id = j.id AND s.status = 'SUBMITTED'
       JOIN job_events c ON c.job_id = j.id AND c.status = 'COMPLETED'`,
      [ids.map(jobUuid)],
    );
    return {
      queuedToSubmittedMs: summarize(rows.map((r) => Number(r.queued_to_submitted))),
      submittedToCompletedMs: summarize(rows.map((r) => Number(r.submitted_to_completed))),
    };
  }

  // 3 first (workers not yet running): the backlog.
  log(`drain: queueing ${backlog} jobs before the workers start`);
  const backlogIds = await queueBacklog(backlog, clients, submit);
  log('starting workers');
  // CPU is read from the first completion to the last, the window the drain is timed over
  // (the workers' start-up is outside it).
  const firstDone = new Promise<void>((resolve) => (onDone = resolve));
  const workerProcs = await startWorkers();
  log('workers running');
  await firstDone;
  onDone = null;
  const swapyardCpu = cpuReaders({
    emulator: () => cpuMsOf(emulator.pid),
    postgres: pgCpu,
    workers: async () => (await Promise.all(workerProcs.map((w) => cpuMsOf(w.pid)))).reduce((a, b) => a + b, 0),
    api: () => cpuMsOf(api.pid),
    // The subscriber the drain is timed by.
    bench: async () => ownCpuMs(),
  });
  const cpu0 = await swapyardCpu();
  await Promise.all(backlogIds.map(completion));
  const drainCpuMsPerJob = perJob(cpu0, await swapyardCpu(), backlogIds.length);

  const ends = backlogIds.map((id) => done.get(id)!.at).sort((a, b) => a - b);
  const drainSeconds = (ends[ends.length - 1]! - ends[0]!) / 1000;
  const drain = { jobs: backlogIds.length, seconds: drainSeconds, perSecond: (backlogIds.length - 1) / drainSeconds, load1: load(), cpuMsPerJob: drainCpuMsPerJob,
    failed: backlogIds.filter((id) => done.get(id)!.status !== 'COMPLETED').length };
  log(`drain: ${drain.perSecond.toFixed(1)} jobs/s`);

  // The peer, on the same machine and database: the body Swapyard's worker sent for a backlog job.
  const { rows: [sample] } = await pool.query<{ params: Record<string, unknown> }>(`SELECT params FROM jobs WHERE id = $1`, [jobUuid(backlogIds[0]!)]);
  if (!sample || Object.values(sample.params).some(isImageRef)) throw new Error('the graphile-worker peer posts the params as they are: the bench input must be URLs');
  async function graphileWorkerDrain(task: 'work' | 'noop') {
    log(`graphile-worker (${task}): draining ${backlog} jobs, concurrency ${gwConcurrency}`);
    const peer = await spawnTs('graphile-worker', 'bench/support/graphile-worker-peer.ts', {
      DATABASE_URL: db.url, EMULATOR_URL: emulator.url, PEER_JOBS: String(backlog), PEER_CONCURRENCY: String(gwConcurrency),
      PEER_TASK: task, PEER_BODY: JSON.stringify(sample!.params), EMULATOR_PID: String(emulator.pid), DATABASE_NAME: db.name,
    }, /GRAPHILE_WORKER_RESULT (\{.*\})/, 600_000);
    await peer.stop();
    const r = JSON.parse(peer.match[1]!) as { jobs: number; seconds: number; perSecond: number; failures: number; cpuAtFirstEnd: Record<string, number>; cpuAtLastEnd: Record<string, number> };
    log(`graphile-worker (${task}): ${r.perSecond.toFixed(1)} jobs/s`);
    return { ...r, load1: load(), cpuMsPerJob: perJob(r.cpuAtFirstEnd, r.cpuAtLastEnd, r.jobs) };
  }
  const graphileWorker = { concurrency: gwConcurrency, work: await graphileWorkerDrain('work'), noop: await graphileWorkerDrain('noop') };
  const drainRatio = drain.perSecond / graphileWorker.work.perSecond;

  // 1. One job at a time.
  await emulator.resetStats();
  for (let i = 0; i < warmJobs; i++) await completion(await submit());
  const seqIds: string[] = [];
  for (let i = 0; i < sequentialJobs; i++) {
    const id = await submit();
    seqIds.push(id);
    await completion(id);
  }
  const sequential = { ...(await overheads(seqIds)), stages: await stages(seqIds), load1: load() };
  log(`sequential: overhead p50 ${sequential.overhead.p50.toFixed(2)} ms p99 ${sequential.overhead.p99.toFixed(2)} ms`);

  // 2. Under load.
  await emulator.resetStats();
  const loadIds: string[] = [];
  const t0 = performance.now();
  const end = t0 + seconds * 1000;
  await Promise.all(Array.from({ length: clients }, async () => {
    while (performance.now() < end) loadIds.push(await submit());
  }));
  const submitSeconds = (performance.now() - t0) / 1000;
  await Promise.all(loadIds.map(completion));
  const allDone = (performance.now() - t0) / 1000;
  // Steady window: the middle 80 % of the submission period.
  const w0 = t0 + submitSeconds * 100;
  const w1 = t0 + submitSeconds * 900;
  const inWindow = loadIds.filter((id) => { const at = done.get(id)!.at; return at >= w0 && at < w1; }).length;
  const underLoad = {
    ...(await overheads(loadIds)),
    jobs: loadIds.length,
    submittedPerSecond: loadIds.length / submitSeconds,
    completedPerSecondSteady: inWindow / ((w1 - w0) / 1000),
    secondsToDrainAll: allDone,
    load1: load(),
  };
  log(`under load: ${underLoad.completedPerSecondSteady.toFixed(1)} completed/s`);

  // 4. Steady, open loop: the k-th job is sent at t0 + k / rate, however long earlier answers take.
  await emulator.resetStats();
  const steadyRate = steadyFixedRate || steadyShare * drain.perSecond;
  const steadyIds: string[] = [];
  const steadyCpu = cpuReaders({
    postgres: pgCpu,
    workers: async () => (await Promise.all(workerProcs.map((w) => cpuMsOf(w.pid)))).reduce((a, b) => a + b, 0),
    api: () => cpuMsOf(api.pid),
  });
  const steadyCpu0 = await steadyCpu();
  const s0 = performance.now();
  const sends: Promise<void>[] = [];
  for (let k = 0; k < Math.round(steadyRate * steadySeconds); k++) {
    const due = s0 + (k * 1000) / steadyRate;
    const ahead = due - performance.now();
    if (ahead > 1) await new Promise((r) => setTimeout(r, ahead));
    sends.push(submit().then((id) => { steadyIds.push(id); }));
  }
  await Promise.all(sends);
  await Promise.all(steadyIds.map(completion));
  const steadyCpuMsPerJob = perJob(steadyCpu0, await steadyCpu(), steadyIds.length);
  const steadyStages = await stages(steadyIds);
  const steady = { rate: steadyRate, share: steadyShare, seconds: steadySeconds, sentPerSecond: steadyIds.length / ((performance.now() - s0) / 1000),
    ...(await overheads(steadyIds)), wait: steadyStages.queuedToSubmittedMs, run: steadyStages.submittedToCompletedMs, cpuMsPerJob: steadyCpuMsPerJob, load1: load() };
  log(`steady at ${steadyRate.toFixed(0)}/s: wait p99 ${steady.wait.p99.toFixed(1)} ms`);
  await http.close();
  await ws.dispose();
  log('stopping');

  const rows: Row[] = [
    { run: `sequential (${seqIds.length} jobs)`, 'overhead p50': sequential.overhead.p50, 'overhead p99': sequential.overhead.p99, 'e2e p50': sequential.e2e.p50, 'e2e p99': sequential.e2e.p99, 'upstream p50': sequential.upstream.p50, 'jobs/s': '', load1: sequential.load1 },
    { run: `${clients} clients, ${seconds}s (${loadIds.length} jobs)`, 'overhead p50': underLoad.overhead.p50, 'overhead p99': underLoad.overhead.p99, 'e2e p50': underLoad.e2e.p50, 'e2e p99': underLoad.e2e.p99, 'upstream p50': underLoad.upstream.p50, 'jobs/s': Number(underLoad.completedPerSecondSteady.toFixed(1)), load1: underLoad.load1 },
    { run: `steady ${steadyRate.toFixed(0)}/s open loop (${steadyFixedRate ? 'fixed' : `${(steadyShare * 100).toFixed(0)} % of the drain`}), ${steadySeconds}s`, 'overhead p50': steady.overhead.p50, 'overhead p99': steady.overhead.p99, 'e2e p50': steady.e2e.p50, 'e2e p99': steady.e2e.p99, 'upstream p50': steady.upstream.p50, 'jobs/s': Number(steadyRate.toFixed(1)), load1: steady.load1 },
    { run: `drain of ${drain.jobs} queued, ${workers} workers`, 'overhead p50': '', 'overhead p99': '', 'e2e p50': '', 'e2e p99': '', 'upstream p50': '', 'jobs/s': Number(drain.perSecond.toFixed(1)), load1: drain.load1 },
    { run: `graphile-worker drain, same work, 1 process × ${gwConcurrency}`, 'overhead p50': '', 'overhead p99': '', 'e2e p50': '', 'e2e p99': '', 'upstream p50': '', 'jobs/s': Number(graphileWorker.work.perSecond.toFixed(1)), load1: graphileWorker.work.load1 },
    { run: `graphile-worker drain, no-op jobs`, 'overhead p50': '', 'overhead p99': '', 'e2e p50': '', 'e2e p99': '', 'upstream p50': '', 'jobs/s': Number(graphileWorker.noop.perSecond.toFixed(1)), load1: graphileWorker.noop.load1 },
  ];
  console.log(`\nEnd-to-end overhead (ms)${asyncCommit ? ' (DIAGNOSTIC: synchronous_commit = off)' : ''} — instant emulator, ${workers} worker processes; ${m.cpus}× ${m.cpuModel}, Node ${m.node}, PostgreSQL ${m.postgres}`);
  console.log(table('', rows));
  console.log(table('sequential jobs, by stage (ms, database clock: transaction starts)', [
    { stage: 'QUEUED → SUBMITTED (wake-up, claim)', p50: sequential.stages.queuedToSubmittedMs.p50, p99: sequential.stages.queuedToSubmittedMs.p99 },
    { stage: 'SUBMITTED → COMPLETED (upstream, artifact, transition)', p50: sequential.stages.submittedToCompletedMs.p50, p99: sequential.stages.submittedToCompletedMs.p99 },
  ]));
  const fixed = (o: Record<string, number>) => Object.fromEntries(Object.entries(o).map(([k, v]) => [k, Number(v.toFixed(3))]));
  console.log(table('drains: CPU ms per job, by process, first completion to last (PostgreSQL: the bench database\'s backends and the shared writers)', [
    { drain: `swapyard, ${workers} workers`, ...fixed(drain.cpuMsPerJob) },
    { drain: 'graphile-worker, same work', ...fixed(graphileWorker.work.cpuMsPerJob) },
    { drain: 'graphile-worker, no-op', ...fixed(graphileWorker.noop.cpuMsPerJob) },
  ]));
  console.log(`drain ratio swapyard / graphile-worker (same work): ${drainRatio.toFixed(2)}× (goal ≥ 0.8×: ${drainRatio >= 0.8 ? 'met' : 'missed'})`);
  console.log(`steady load at ${steadyFixedRate ? 'a fixed rate' : `${(steadyShare * 100).toFixed(0)} % of the drain`} (${steadyRate.toFixed(0)} jobs/s, ${steady.wait.n} jobs): wait (QUEUED → SUBMITTED) p50 ${steady.wait.p50.toFixed(1)} ms, p99 ${steady.wait.p99.toFixed(1)} ms (goal p99 < 100 ms: ${steady.wait.p99 < 100 ? 'met' : 'missed'}); SUBMITTED → COMPLETED p50 ${steady.run.p50.toFixed(1)} ms, p99 ${steady.run.p99.toFixed(1)} ms; overhead p99 ${steady.overhead.p99.toFixed(1)} ms; CPU ms per job: ${Object.entries(steady.cpuMsPerJob).map(([k, v]) => `${k} ${v.toFixed(2)}`).join(', ')}`);
  console.log(`goal overhead p50 < 10 ms: ${sequential.overhead.p50 < 10 ? 'met' : 'missed'}; p99 < 50 ms: ${sequential.overhead.p99 < 50 ? 'met' : 'missed'} (sequential)`);
  printJson('overhead', { smoke, asyncCommit, workers, clients, seconds, machine: m, sequential, underLoad, steady, drain, graphileWorker, ratios: { drainSwapyardOverGraphileWorker: drainRatio } });
} finally {
  await Promise.all(procs.map((p) => p.stop().catch(() => {})));
  await pool.end();
  await db.drop();
}
