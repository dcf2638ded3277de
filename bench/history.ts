// Figure group 4: history at scale. Seeds `--jobs` jobs (default 1,000,000) with
// generate_series (not the API), then times, through the service function the
// `jobs(...)` connection runs (src/services/job-history.ts#listJobs, Prisma):
//   a filtered first page of 50 and the next page by its cursor, per filter case,
//   first without the per-model and per-status history indexes, then with them;
// and creditSpend (src/services/spend.ts) over the seeded jobs' ledger, checked
// against the same aggregate straight over ledger_entries.
// EXPLAIN (ANALYZE, BUFFERS) of every timed statement goes to --explain-out.
//
//   npm run bench:history [-- --smoke] [--jobs 1000000] [--reps 200] [--explain-out file]
import { writeFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { PrismaPg } from '@prisma/adapter-pg';
import { PrismaClient } from '../src/generated/prisma/client.js';
import { createApiKey } from '../src/services/api-keys.js';
import { encodeCursor, decodeCursor, listJobs, type JobFilter, type Page } from '../src/services/job-history.js';
import type { JobStatus } from '../src/services/job-status.js';
import { createBenchDatabase } from './support/db.js';
import { HISTORY_INDEXES, LEDGER_SEED_SQL, MODELS, seedSql, SPEND_RAW_SQL } from './support/history-sql.js';
import { creditSpend, type SpendQuery } from '../src/services/spend.js';
import { hasFlag, load, log, machine, numArg, printJson, table, type Row } from './support/report.js';
import { summarize, type Summary } from './support/stats.js';

const smoke = hasFlag('smoke');
const total = numArg('jobs', smoke ? 5000 : 1_000_000);
const reps = numArg('reps', smoke ? 3 : 200);
const spendReps = numArg('spend-reps', smoke ? 2 : 20);
const explainOut = process.argv.includes('--explain-out') ? process.argv[process.argv.indexOf('--explain-out') + 1]! : null;
const KEYS = 10;
const DAY = 86_400_000;

const m = await machine();
const db = await createBenchDatabase('history');
const pool = db.pool(4);
const queries: Array<{ query: string; params: string }> = [];
const prisma = new PrismaClient({ adapter: new PrismaPg(pool), log: [{ emit: 'event', level: 'query' }] });
(prisma as unknown as { $on(e: 'query', cb: (e: { query: string; params: string }) => void): void }).$on('query', (e) => {
  queries.push({ query: e.query, params: e.params });
  if (queries.length > 10) queries.shift();
});
const explains: string[] = [];
type PageRow = { row: Row; first: Summary; next: Summary; sql: Summary };

async function explain(title: string, sql: string, params: unknown[]): Promise<void> {
  if (!explainOut) return;
  const { rows } = await pool.query(`EXPLAIN (ANALYZE, BUFFERS) ${sql}`, params);
  explains.push(`### ${title}\n\n\`\`\`sql\n${sql.trim()}\n-- params: ${JSON.stringify(params)}\n\`\`\`\n\n\`\`\`\n${rows.map((r) => r['QUERY PLAN']).join('\n')}\n\`\`\`\n`);
}

try {
  log(`seeding ${total} jobs over ${KEYS} keys`);
  const keys: Array<{ id: string; secret: string }> = [];
  for (let i = 0; i < KEYS; i++) keys.push(await createApiKey(pool, `history-${i}`));
  await pool.query(`CREATE TABLE bench_keys (ord int PRIMARY KEY, id uuid NOT NULL)`);
  for (const [ord, k] of keys.entries()) await pool.query(`INSERT INTO bench_keys VALUES ($1, $2)`, [ord, k.id]);
  // Measured without the history indexes first, then with them (the migration creates them).
  for (const ix of HISTORY_INDEXES) await pool.query(`DROP INDEX IF EXISTS ${ix.name}`);
  const seedStart = performance.now();
  const chunk = 100_000;
  for (let from = 1; from <= total; from += chunk) {
    await pool.query(seedSql(total, from, Math.min(chunk, total - from + 1)));
    if (!smoke) log(`  ${Math.min(total, from + chunk - 1)} rows`);
  }
  await pool.query(`VACUUM ANALYZE jobs`);
  const seedSeconds = (performance.now() - seedStart) / 1000;
  const ledgerStart = performance.now();
  for (const sql of LEDGER_SEED_SQL) await pool.query(sql);
  const ledgerSeconds = (performance.now() - ledgerStart) / 1000;
  const bigKey = keys[0]!.id;
  const { rows: [stats] } = await pool.query<{ n: number; key_n: number; oldest: Date; newest: Date; size: string }>(
    `SELECT count(*)::int AS n, count(*) FILTER (WHERE api_key_id = $1)::int AS key_n, min(created_at) AS oldest, max(created_at) AS newest,
            pg_size_pretty(pg_total_relation_size('jobs')) AS size FROM jobs`, [bigKey]);
  log(`seeded ${stats!.n} jobs in ${seedSeconds.toFixed(1)} s (${stats!.key_n} on the queried key; table + indexes ${stats!.size})`);
  const { rows: seedRows } = await pool.query<{ seed: number }>(`SELECT seed FROM jobs WHERE api_key_id = $1 AND seed IS NOT NULL ORDER BY random() LIMIT 500`, [bigKey]);
  const oldest = stats!.oldest.getTime();
  const newest = stats!.newest.getTime();
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(Math.random() * xs.length)]!;
  const randomWeek = () => {
    const start = oldest + Math.random() * (newest - oldest - 7 * DAY);
    return { createdAfter: new Date(start), createdBefore: new Date(start + 7 * DAY) };
  };

  const cases: Array<{ name: string; filter: () => JobFilter }> = [
    { name: 'key only', filter: () => ({}) },
    { name: 'model', filter: () => ({ models: [pick(MODELS)] }) },
    { name: 'status FAILED (8 %)', filter: () => ({ statuses: ['FAILED'] as JobStatus[] }) },
    { name: 'status CANCELED (2 %)', filter: () => ({ statuses: ['CANCELED'] as JobStatus[] }) },
    { name: 'model + status FAILED', filter: () => ({ models: [pick(MODELS)], statuses: ['FAILED'] as JobStatus[] }) },
    { name: 'created range (7 days)', filter: randomWeek },
    { name: 'model + CANCELED + 7 days', filter: () => ({ models: [pick(MODELS)], statuses: ['CANCELED'] as JobStatus[], ...randomWeek() }) },
    { name: 'seed', filter: () => ({ seed: pick(seedRows).seed }) },
  ];
  const page = (cursor: Page['cursor']): Page => ({ direction: 'forward', size: 50, cursor, newestFirst: true });

  /** The last statement Prisma sent for the jobs table, with its parameters. */
  const lastJobsQuery = () => {
    const q = queries.filter((x) => /FROM "public"\."jobs"/.test(x.query)).pop()!;
    return { sql: q.query, params: JSON.parse(q.params) as unknown[] };
  };

  async function runCases(variant: string): Promise<PageRow[]> {
    const rows: PageRow[] = [];
    for (const c of cases) {
      const first: number[] = [];
      const next: number[] = [];
      const sql: number[] = [];
      let pages = 0;
      for (let r = -Math.min(10, reps); r < reps; r++) {
        const filter = c.filter();
        let t = performance.now();
        const p1 = await listJobs(prisma, bigKey, filter, page(null));
        const d1 = performance.now() - t;
        const q1 = lastJobsQuery();
        if (r === reps - 1) await explain(`${variant} — ${c.name}: first page`, q1.sql, q1.params);
        // The same statement straight through pg: what the database takes, without Prisma.
        t = performance.now();
        await pool.query(q1.sql, q1.params);
        if (r >= 0) { first.push(d1); sql.push(performance.now() - t); }
        const last = p1.jobs[p1.jobs.length - 1];
        if (!last || !p1.hasMore) continue;
        const cursor = decodeCursor(encodeCursor(last))!;
        t = performance.now();
        await listJobs(prisma, bigKey, filter, page(cursor));
        const d2 = performance.now() - t;
        if (r >= 0) { next.push(d2); pages++; }
        if (r === reps - 1) { const q2 = lastJobsQuery(); await explain(`${variant} — ${c.name}: next page`, q2.sql, q2.params); }
      }
      const f = summarize(first);
      const n = summarize(next);
      const q = summarize(sql);
      rows.push({ row: { case: c.name, 'first p50': f.p50, 'first p99': f.p99, 'next p50': n.p50, 'next p99': n.p99, 'next pages': pages, 'pg only p50': q.p50, 'pg only p99': q.p99, load1: load() }, first: f, next: n, sql: q });
      log(`${variant} / ${c.name}: first p99 ${f.p99.toFixed(2)} ms, next p99 ${n.p99.toFixed(2)} ms, same SQL through pg p99 ${q.p99.toFixed(2)} ms`);
    }
    // A deep page: the cursor half way down the key's history.
    const deep: number[] = [];
    const { rows: mid } = await pool.query<{ created_at: Date; id: string }>(
      `SELECT created_at, id FROM jobs WHERE api_key_id = $1 ORDER BY created_at DESC, id DESC OFFSET $2 LIMIT 1`, [bigKey, Math.floor(stats!.key_n / 2)]);
    for (let r = 0; r < Math.max(3, Math.floor(reps / 4)); r++) {
      const t = performance.now();
      await listJobs(prisma, bigKey, {}, page({ createdAt: mid[0]!.created_at, id: mid[0]!.id }));
      deep.push(performance.now() - t);
    }
    const qd = lastJobsQuery();
    await explain(`${variant} — key only: page at half depth`, qd.sql, qd.params);
    const d = summarize(deep);
    rows.push({ row: { case: 'key only, page at half depth', 'first p50': '', 'first p99': '', 'next p50': d.p50, 'next p99': d.p99, 'next pages': d.n, 'pg only p50': '', 'pg only p99': '', load1: load() }, first: summarize([]), next: d, sql: summarize([]) });
    return rows;
  }

  const before = await runCases('project indexes');
  const indexTimes: Row[] = [];
  for (const ix of HISTORY_INDEXES) {
    const t = performance.now();
    await pool.query(ix.sql);
    indexTimes.push({ index: ix.name, 'build s': (performance.now() - t) / 1000 });
  }
  await pool.query(`ANALYZE jobs`);
  const after = await runCases('proposed indexes');

  // ---- creditSpend over the ledger (whole days from ledger_daily, partial days from ledger_entries) ----
  const { rows: [ledger] } = await pool.query<{ n: number; days: number }>(
    `SELECT (SELECT count(*)::int FROM ledger_entries) AS n, (SELECT count(*)::int FROM ledger_daily) AS days`);
  async function timeSpend(title: string, q: SpendQuery): Promise<Summary & { groups: number; same: boolean; rawP50: number }> {
    const samples: number[] = [];
    const raw: number[] = [];
    let spend = await creditSpend(pool, q);
    for (let r = 0; r < spendReps; r++) {
      let t = performance.now();
      spend = await creditSpend(pool, q);
      samples.push(performance.now() - t);
      if (r < 3) {
        t = performance.now();
        await pool.query(SPEND_RAW_SQL, [q.from, q.to, q.apiKeyId]);
        raw.push(performance.now() - t);
      }
    }
    await explain(`${title}: straight over the ledger`, SPEND_RAW_SQL, [q.from, q.to, q.apiKeyId]);
    // creditSpend must answer exactly what the ledger says.
    const { rows } = await pool.query(SPEND_RAW_SQL, [q.from, q.to, q.apiKeyId]);
    const same = JSON.stringify(spend.groups.map((g) => [g.day, g.model, g.status, g.totalMicros.toString(), g.count]))
      === JSON.stringify(rows.map((r) => [r.day, r.model, r.status, r.micros, r.n]));
    return { ...summarize(samples), groups: spend.groups.length, same, rawP50: summarize(raw).p50 };
  }
  const groupBy = ['DAY', 'MODEL', 'STATUS'] as const;
  const spendAll = await timeSpend('spend: all keys, all days', { from: new Date(oldest - DAY), to: new Date(newest + DAY), groupBy: [...groupBy], apiKeyId: null });
  const spendRange = await timeSpend('spend: one key, partial days at both ends', {
    from: new Date(oldest + 10.5 * DAY), to: new Date(newest - 3.25 * DAY), groupBy: [...groupBy], apiKeyId: bigKey,
  });
  const spendLoad = load();

  console.log(`\nHistory — ${stats!.n} jobs (${stats!.key_n} on the queried key, ${KEYS} keys, 180 days), table + indexes ${stats!.size}, seeded in ${seedSeconds.toFixed(1)} s; pages of 50 through listJobs (Prisma), ${reps} reps each after 10 warm-up; ${m.cpus}× ${m.cpuModel}, Node ${m.node}, PostgreSQL ${m.postgres}`);
  const strip = (rows: PageRow[]) => rows.map((r) => r.row);
  console.log(table('page times (ms), project indexes only', strip(before)));
  console.log(table('index builds', indexTimes));
  console.log(table('page times (ms), with the proposed indexes', strip(after)));
  const spendRows: Row[] = [
    { query: 'all keys, all days, by day+model+status', groups: spendAll.groups, p50: spendAll.p50, p99: spendAll.p99, max: spendAll.max, 'raw ledger p50': spendAll.rawP50, same: String(spendAll.same), load1: spendLoad },
    { query: '1 key, partial days, by day+model+status', groups: spendRange.groups, p50: spendRange.p50, p99: spendRange.p99, max: spendRange.max, 'raw ledger p50': spendRange.rawP50, same: String(spendRange.same), load1: spendLoad },
  ];
  console.log(table(`creditSpend (ms), ${spendReps} reps; ledger ${ledger!.n} entries written in ${ledgerSeconds.toFixed(1)} s, rollup ${ledger!.days} rows`, spendRows));
  const worstPage = Math.max(...after.map((r) => Math.max(r.first.p99 || 0, r.next.p99 || 0)));
  console.log(`goal history page p99 < 10 ms: ${worstPage < 10 ? 'met' : 'missed'} (worst ${worstPage.toFixed(2)} ms); spend < 100 ms: ${Math.max(spendAll.p99, spendRange.p99) < 100 ? 'met' : 'missed'} (creditSpend p99: all ${spendAll.p99.toFixed(2)} ms, one key ${spendRange.p99.toFixed(2)} ms)`);
  if (explainOut) writeFileSync(explainOut, explains.join('\n'));
  printJson('history', {
    smoke, machine: m, jobs: stats!.n, keyJobs: stats!.key_n, seedSeconds, reps,
    pagesBefore: before.map((r) => ({ case: r.row.case, first: r.first, next: r.next, sql: r.sql, load1: r.row.load1 })),
    pagesAfter: after.map((r) => ({ case: r.row.case, first: r.first, next: r.next, sql: r.sql, load1: r.row.load1 })),
    indexTimes, spend: { all: spendAll, range: spendRange, ledgerEntries: ledger!.n, rollupRows: ledger!.days, ledgerSeconds },
  });
} finally {
  await prisma.$disconnect();
  await pool.end();
  await db.drop();
}
