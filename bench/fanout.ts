// Figure group 3: subscription fan-out and idle-subscription memory.
//
// `--subscribers` graphql-ws connections (one subscription each, all on one API
// key, so every event goes to every subscriber) listen to jobsUpdated. The bench
// then moves one job between SUBMITTED and PROCESSING with the service's own
// transition() (one statement: row, event, NOTIFY) `--events` times, spaced out so
// events do not overlap. Latency = a subscriber's receipt − the moment transition()
// was called (both clocks are this process's performance.now()). The commit happens
// within the call, so this counts the statement's own round trip (1.5–3 ms here)
// against the service: an upper bound. From the call's return, the lower bound, is
// printed beside it; a receipt can even come first, since this process may read the
// reply to its statement after frames that arrived with it.
// Then the API process's RSS (from /proc) with 0, --subscribers and --idle idle subscriptions.
//
//   npm run bench:fanout [-- --smoke] [--subscribers 1000] [--events 30] [--idle 10000]
import { performance } from 'node:perf_hooks';
import type { Client } from 'graphql-ws';
import { transition } from '../src/services/job-transitions.js';
import { cpuMsOf } from './support/cpu.js';
import { createBenchDatabase } from './support/db.js';
import { graphqlClient } from './support/load.js';
import { startApiProcess, startEmulatorProcess, type Proc } from './support/processes.js';
import { hasFlag, load, log, machine, numArg, printJson, table } from './support/report.js';
import { summarize } from './support/stats.js';
import { jobUuid, wsClient } from './support/ws.js';

const smoke = hasFlag('smoke');
const subscribers = numArg('subscribers', smoke ? 20 : 1000);
const events = numArg('events', smoke ? 4 : 30);
const warmEvents = numArg('warmup-events', smoke ? 1 : 5);
const idle = numArg('idle', smoke ? 50 : 10_000);
const gapMs = numArg('gap', smoke ? 50 : 300);
/** Pause before a memory reading or after connecting, so the process settles. */
const settleMs = smoke ? 200 : 1000;

const SUBSCRIPTION = `subscription { jobsUpdated { cursor status job { __typename ... on SwapJob { id status } } } }`;
const MUTATION = `mutation($input: CreateFaceswapV4JobInput!) { createFaceswapV4Job(input: $input) { ... on FaceswapV4Job { id } } }`;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const mb = (bytes: number) => Number((bytes / 2 ** 20).toFixed(1));

const m = await machine();
const db = await createBenchDatabase('fanout');
const procs: Proc[] = [];
const pool = db.pool(2);
const clients: Client[] = [];
try {
  const emulator = await startEmulatorProcess();
  procs.push(emulator);
  const api = await startApiProcess({ databaseUrl: db.url, emulatorUrl: emulator.url });
  procs.push(api);
  const http = graphqlClient(api.url, 1);
  const created = await http.post('/graphql', { query: MUTATION, variables: { input: { sourceImage: 'https://example.com/a.jpg', targetImage: 'https://example.com/b.png' } } }, { authorization: `Bearer ${api.key}` });
  const jobId = jobUuid(created.json.data.createFaceswapV4Job.id);
  // A read through Prisma too, so the baseline includes what the first queries load (Prisma's query compiler).
  await http.post('/graphql', { query: '{ jobs(first: 5) { edges { node { id } } } }' }, { authorization: `Bearer ${api.key}` });
  await http.close();
  await pool.query(`UPDATE jobs SET status = 'SUBMITTED' WHERE id = $1`, [jobId]);
  await sleep(settleMs);
  const rssBaseline = await api.rss();
  const loadBaseline = load();

  /** Receipt times per event id (cursor), one entry per subscriber. */
  const receipts = new Map<string, number[]>();
  let received = 0;
  async function connect(n: number, record: boolean): Promise<void> {
    const batch = 100;
    for (let i = 0; i < n; i += batch) {
      await Promise.all(Array.from({ length: Math.min(batch, n - i) }, async () => {
        const client = wsClient(api.wsUrl, api.key, { lazy: false });
        clients.push(client);
        await new Promise<void>((resolve, reject) => {
          client.on('connected', () => resolve());
          client.on('closed', (e) => reject(new Error(`closed: ${JSON.stringify(e)}`)));
        });
        client.subscribe<any>({ query: SUBSCRIPTION }, {
          next: (msg) => {
            const at = performance.now();
            if (!record) return;
            const cursor = msg.data?.jobsUpdated?.cursor;
            if (!cursor) return log(`bad message ${JSON.stringify(msg).slice(0, 200)}`);
            let list = receipts.get(cursor);
            if (!list) receipts.set(cursor, (list = []));
            list.push(at);
            received++;
          },
          error: (e) => log(`subscription error ${String(e)}`),
          complete: () => {},
        });
      }));
    }
  }

  log(`connecting ${subscribers} subscribers`);
  await connect(subscribers, true);
  await sleep(settleMs); // every subscribe message handled server-side

  let status: 'SUBMITTED' | 'PROCESSING' = 'SUBMITTED';
  /** Per event: when transition() was called and when it returned; the commit lies between. */
  const committed = new Map<string, { called: number; returned: number }>();
  async function fire(): Promise<string> {
    const to = status === 'SUBMITTED' ? 'PROCESSING' : 'SUBMITTED';
    const called = performance.now();
    const notice = await transition(pool, { jobId, from: [status], to });
    const returned = performance.now();
    if (!notice) throw new Error('transition did not happen');
    status = to;
    committed.set(notice.eventId, { called, returned });
    return notice.eventId;
  }
  async function awaitAll(eventId: string, timeoutMs = 120_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while ((receipts.get(eventId)?.length ?? 0) < subscribers) {
      if (Date.now() > deadline) throw new Error(`event ${eventId}: ${receipts.get(eventId)?.length ?? 0}/${subscribers} receipts`);
      await sleep(5);
    }
  }

  for (let i = 0; i < warmEvents; i++) {
    await awaitAll(await fire());
    await sleep(gapMs);
  }
  const apiCpu0 = await cpuMsOf(api.pid);
  const benchCpu0 = process.cpuUsage();
  const measured: string[] = [];
  const perEventLast: number[] = [];
  const perEventFirst: number[] = [];
  for (let i = 0; i < events; i++) {
    const id = await fire();
    measured.push(id);
    await awaitAll(id);
    const t = committed.get(id)!.called;
    const list = receipts.get(id)!;
    perEventFirst.push(Math.min(...list) - t);
    perEventLast.push(Math.max(...list) - t);
    await sleep(gapMs);
  }
  const benchCpu = process.cpuUsage(benchCpu0);
  const cpuPerEventMs = {
    api: (await cpuMsOf(api.pid) - apiCpu0) / measured.length,
    benchClient: (benchCpu.user + benchCpu.system) / 1000 / measured.length,
  };
  const latencies = measured.flatMap((id) => receipts.get(id)!.map((at) => at - committed.get(id)!.called));
  const fromReturn = measured.flatMap((id) => receipts.get(id)!.map((at) => at - committed.get(id)!.returned));
  const fanout = { subscribers, events: measured.length, samples: latencies.length, expectedSamples: measured.length * subscribers, latencyMs: summarize(latencies), latencyFromReturnMs: summarize(fromReturn), firstReceiptMs: summarize(perEventFirst), lastReceiptMs: summarize(perEventLast), cpuPerEventMs, load1: load() };
  log(`fan-out p50 ${fanout.latencyMs.p50.toFixed(2)} ms p99 ${fanout.latencyMs.p99.toFixed(2)} ms`);
  await sleep(settleMs);
  const rssActive = await api.rss();

  log(`connecting idle subscribers up to ${idle}`);
  await connect(Math.max(0, idle - subscribers), false);
  await sleep(settleMs * 3);
  const rssIdle = await api.rss();
  const memory = { baselineMb: mb(rssBaseline), baselineLoad1: loadBaseline, atSubscribersMb: mb(rssActive), idleSubscriptions: Math.max(idle, subscribers), atIdleMb: mb(rssIdle), load1: load() };

  console.log(`\nFan-out — ${subscribers} graphql-ws subscribers (one connection each, one key), ${measured.length} events; ${m.cpus}× ${m.cpuModel}, Node ${m.node}, PostgreSQL ${m.postgres}`);
  console.log(table('commit → receipt (ms), from the call of the committing statement (upper bound)', [
    { measure: 'every receipt', n: fanout.latencyMs.n, p50: fanout.latencyMs.p50, p99: fanout.latencyMs.p99, max: fanout.latencyMs.max, load1: fanout.load1 },
    { measure: 'every receipt, from its return (lower bound)', n: fanout.latencyFromReturnMs.n, p50: fanout.latencyFromReturnMs.p50, p99: fanout.latencyFromReturnMs.p99, max: fanout.latencyFromReturnMs.max, load1: fanout.load1 },
    { measure: 'first subscriber per event', n: fanout.firstReceiptMs.n, p50: fanout.firstReceiptMs.p50, p99: fanout.firstReceiptMs.p99, max: fanout.firstReceiptMs.max, load1: fanout.load1 },
    { measure: 'last subscriber per event', n: fanout.lastReceiptMs.n, p50: fanout.lastReceiptMs.p50, p99: fanout.lastReceiptMs.p99, max: fanout.lastReceiptMs.max, load1: fanout.load1 },
  ]));
  console.log(`CPU per event (includes the ${gapMs} ms idle gap): API process ${cpuPerEventMs.api.toFixed(1)} ms, bench client (all ${subscribers} subscribers) ${cpuPerEventMs.benchClient.toFixed(1)} ms`);
  console.log(table('API process RSS', [
    { subscriptions: 0, 'RSS MB': memory.baselineMb, load1: memory.baselineLoad1 },
    { subscriptions: subscribers, 'RSS MB': memory.atSubscribersMb, load1: fanout.load1 },
    { subscriptions: memory.idleSubscriptions, 'RSS MB': memory.atIdleMb, load1: memory.load1 },
  ]));
  console.log(`goal fan-out p99 < 25 ms: ${fanout.latencyMs.p99 < 25 ? 'met' : 'missed'}; ${memory.idleSubscriptions} idle < 300 MB: ${memory.atIdleMb < 300 ? 'met' : 'missed'}`);
  printJson('fanout', { smoke, machine: m, fanout, memory, receivedTotal: received });
} finally {
  await Promise.all(clients.map((c) => c.dispose()));
  await Promise.all(procs.map((p) => p.stop().catch(() => {})));
  await pool.end();
  await db.drop();
}
