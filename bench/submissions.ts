// Figure group 1: submission throughput. createFaceswapV4Job over HTTP from
// `clients` concurrent keep-alive clients (closed loop), against peers run in
// the same process on the same database, one after another:
//   - pg INSERT: the same row (same columns and values) through `pg`, a pool of 10 like the API's;
//   - service: Swapyard's createJob() (row + event + NOTIFY, coalesced into batches under load) without HTTP or GraphQL;
//   - PostGraphile v5: its generated createJob insert mutation on the same table, over HTTP;
// and Swapyard with one API key for all clients (their events share the key's
// ordering lock) and with a key per client.
//
//   npm run bench:submissions [-- --smoke] [--clients 50] [--seconds 10] [--warmup 3]
import { randomUUID } from 'node:crypto';
import { connectDb } from '../src/db/client.js';
import { modelSpec } from '../src/models/registry.js';
import { createApiKey } from '../src/services/api-keys.js';
import { createJob } from '../src/services/jobs.js';
import { cpuMsOf, cpuReaders, ownCpuMs, perJob, postgresCpu } from './support/cpu.js';
import { createBenchDatabase, withAdmin } from './support/db.js';
import { closedLoop, graphqlClient, type LoadResult } from './support/load.js';
import { spawnTs, startApiProcess, startEmulatorProcess, type Proc } from './support/processes.js';
import { hasFlag, load, log, machine, numArg, printJson, table } from './support/report.js';

const smoke = hasFlag('smoke');
const clients = numArg('clients', smoke ? 4 : 50);
const seconds = numArg('seconds', smoke ? 0.5 : 10);
const warmup = numArg('warmup', smoke ? 0.2 : 3);
/** Diagnostic only: `--async-commit` sets synchronous_commit = off on the bench database, to show what commit latency costs. */
const asyncCommit = hasFlag('async-commit');

const MUTATION = `mutation($input: CreateFaceswapV4JobInput!) {
  createFaceswapV4Job(input: $input) { __typename ... on FaceswapV4Job { id status seed } ... on InvalidInputError { message } } }`;
const INPUT = { sourceImage: 'https://example.com/faces/source.jpg', targetImage: 'https://example.com/faces/target.png' };
const PGL_MUTATION = `mutation($job: JobInput!) { createJob(input: { job: $job }) { job { rowId status seed } } }`;

interface Phase extends LoadResult {
  name: string;
  load1: number;
  /** CPU ms per request in each process, and their total: where a request's cost lands. */
  cpuMsPerRequest: Record<string, number>;
}

/** Reads the CPU of every process a phase involves; the bench's own until the services run. */
let cpuNow = cpuReaders({ bench: async () => ownCpuMs() });

const phases: Phase[] = [];
async function phase(name: string, call: (c: number) => Promise<void>): Promise<Phase> {
  log(`${name}: warm-up ${warmup}s`);
  await closedLoop(clients, warmup, call);
  log(`${name}: measuring ${seconds}s with ${clients} clients`);
  const before = await cpuNow();
  const r = await closedLoop(clients, seconds, call);
  const after = await cpuNow();
  const cpuMsPerRequest = perJob(before, after, r.requests);
  const p = { name, ...r, load1: load(), cpuMsPerRequest };
  if (r.errors) log(`${name}: ${r.errors} errors, first: ${r.firstError}`);
  phases.push(p);
  return p;
}

const m = await machine();
const db = await createBenchDatabase('submissions');
if (asyncCommit) await withAdmin((c) => c.query(`ALTER DATABASE "${db.name}" SET synchronous_commit = off`));
const procs: Proc[] = [];
const direct = connectDb(db.url, { max: 10 });
try {
  const emulator = await startEmulatorProcess();
  procs.push(emulator);
  const [api, pgl] = await Promise.all([
    startApiProcess({ databaseUrl: db.url, emulatorUrl: emulator.url }),
    spawnTs('postgraphile', 'bench/support/postgraphile-server.ts', { DATABASE_URL: db.url }, /listening on (http:\/\/\S+)\/graphql/),
  ]);
  procs.push(api, pgl);
  cpuNow = cpuReaders({
    bench: async () => ownCpuMs(), api: () => cpuMsOf(api.pid), postgraphile: () => cpuMsOf(pgl.pid), postgres: postgresCpu(direct.pool, db.name),
  });
  const http = graphqlClient(api.url, clients);
  const pglHttp = graphqlClient(pgl.match[1]!, clients);

  const submit = (key: string) => async () => {
    const res = await http.post('/graphql', { query: MUTATION, variables: { input: INPUT } }, { authorization: `Bearer ${key}` });
    if (res.json?.data?.createFaceswapV4Job?.__typename !== 'FaceswapV4Job') throw new Error(`unexpected answer ${res.status}: ${JSON.stringify(res.json).slice(0, 300)}`);
  };

  const oneKey = await phase('swapyard, 1 key', submit(api.key));
  const keys = await Promise.all(Array.from({ length: clients }, (_, i) => createApiKey(direct.pool, `bench-${i}`)));
  const keyPerClient = await phase('swapyard, key per client', (c) => submit(keys[c]!.secret)());

  // The row the API wrote, to insert again as is.
  const { rows } = await direct.pool.query<{ api_key_id: string; model: string; provider: string; params: unknown; seed: number }>(
    `SELECT api_key_id, model, provider, params, seed FROM jobs ORDER BY created_at DESC LIMIT 1`,
  );
  const row = rows[0]!;
  const paramsJson = JSON.stringify(row.params);
  const insert = await phase('pg INSERT (same row)', async () => {
    await direct.pool.query(`INSERT INTO jobs (id, api_key_id, model, provider, params, seed) VALUES ($1, $2, $3, $4, $5::jsonb, $6)`, [
      randomUUID(), row.api_key_id, row.model, row.provider, paramsJson, row.seed,
    ]);
  });
  const spec = modelSpec(row.model);
  await phase('createJob() service, no HTTP', async () => {
    await createJob(direct, {
      apiKeyId: row.api_key_id, spec, normalised: { params: row.params as never, seed: row.seed }, provider: row.provider,
      cost: { estimatedMicros: 0n, failureMicros: 0n },
    });
  });
  const postgraphile = await phase('PostGraphile createJob', async () => {
    const res = await pglHttp.post('/graphql', {
      query: PGL_MUTATION,
      variables: { job: { rowId: randomUUID(), apiKeyId: row.api_key_id, model: row.model, provider: row.provider, params: row.params, seed: row.seed } },
    });
    if (!res.json?.data?.createJob?.job) throw new Error(`unexpected answer ${res.status}: ${JSON.stringify(res.json).slice(0, 300)}`);
  });
  const { rows: count } = await direct.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM jobs`);
  await http.close();
  await pglHttp.close();

  console.log(`\nSubmissions${asyncCommit ? ' (DIAGNOSTIC: synchronous_commit = off)' : ''} — ${clients} concurrent clients, ${seconds}s measured after ${warmup}s warm-up; ${m.cpus}× ${m.cpuModel}, Node ${m.node}, PostgreSQL ${m.postgres}`);
  console.log(
    table(
      '',
      phases.map((p) => ({
        peer: p.name, 'req/s': Number(p.perSecond.toFixed(1)), requests: p.requests, errors: p.errors,
        'p50 ms': p.latencyMs.p50, 'p99 ms': p.latencyMs.p99, 'max ms': p.latencyMs.max, load1: p.load1,
      })),
    ),
  );
  console.log('\nCPU ms per request, by process (PostgreSQL: the bench database\'s backends and the shared writers)');
  console.log(table('', phases.map((p) => ({ peer: p.name, ...Object.fromEntries(Object.entries(p.cpuMsPerRequest).map(([k, v]) => [k, Number(v.toFixed(3))])) }))));
  const ratios = {
    swapyardToPgInsert: oneKey.perSecond / insert.perSecond,
    swapyardToPostgraphile: oneKey.perSecond / postgraphile.perSecond,
    keyPerClientToPgInsert: keyPerClient.perSecond / insert.perSecond,
    keyPerClientToPostgraphile: keyPerClient.perSecond / postgraphile.perSecond,
  };
  console.log(`ratios (throughput): swapyard/pg-insert ${ratios.swapyardToPgInsert.toFixed(3)}, swapyard/postgraphile ${ratios.swapyardToPostgraphile.toFixed(3)}; key per client: /pg ${ratios.keyPerClientToPgInsert.toFixed(3)}, /postgraphile ${ratios.keyPerClientToPostgraphile.toFixed(3)}`);
  console.log(`goal ≥ 1500 submissions/s: ${oneKey.perSecond >= 1500 ? 'met' : 'missed'} (${oneKey.perSecond.toFixed(0)}/s, 1 key)`);
  printJson('submissions', { smoke, asyncCommit, clients, seconds, warmup, machine: m, phases, ratios, rowsInTable: count[0]!.n });
} finally {
  await Promise.all(procs.map((p) => p.stop().catch(() => {})));
  await direct.close();
  await db.drop();
}
