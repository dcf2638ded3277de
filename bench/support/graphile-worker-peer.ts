// The peer of bench/overhead.ts's drain: graphile-worker, a generic PostgreSQL
// job queue, draining a backlog of queued jobs in its own process and its own
// schema (graphile_worker) of the bench database. With PEER_TASK=work each job
// does what a Swapyard sync job does at its core — the same POST to the
// emulator's /v1/faceswap-v4 with the same body, a sha256 of the answer, a file
// write and one query (a row recording the result); with PEER_TASK=noop it does
// nothing, which shows the queue's own ceiling.
// The jobs are queued before the runner starts; the drain is timed from the
// first completion to the last, as the Swapyard drain is. Prints one line,
// `GRAPHILE_WORKER_RESULT {json}`, then exits.
import { createHash } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { makeWorkerUtils, run, type Task } from 'graphile-worker';
import pg from 'pg';
import { cpuMsOf, cpuReaders, ownCpuMs, postgresCpu } from './cpu.js';

function required(name: string): string {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is required`);
  return v;
}

const connectionString = required('DATABASE_URL');
const jobs = Number(required('PEER_JOBS'));
const concurrency = Number(process.env.PEER_CONCURRENCY ?? 8);
const task = required('PEER_TASK');
if (task !== 'work' && task !== 'noop') throw new Error(`PEER_TASK must be work or noop, got ${task}`);
const emulatorUrl = task === 'work' ? required('EMULATOR_URL') : '';
const emulatorKey = process.env.EMULATOR_API_KEY ?? 'emulator-key';
const body = task === 'work' ? required('PEER_BODY') : '';

// A pool as large as the runner's concurrency, plus one for the runner's LISTEN.
const pgPool = new pg.Pool({ connectionString, max: concurrency + 1 });
const outDir = await mkdtemp(join(tmpdir(), 'swapyard-gw-peer-'));
const utils = await makeWorkerUtils({ pgPool });
await utils.migrate();
await pgPool.query(`CREATE TABLE IF NOT EXISTS graphile_worker_peer_results (job_id bigint PRIMARY KEY, sha256 text NOT NULL, path text NOT NULL)`);
await pgPool.query(`TRUNCATE graphile_worker_peer_results`);
await pgPool.query(`SELECT graphile_worker.add_job('swap', json_build_object('i', g)) FROM generate_series(1, $1::int) AS g`, [jobs]);

// CPU by process from the first completion to the last, as bench/overhead.ts reads the Swapyard drain's.
const emulatorPid = Number(process.env.EMULATOR_PID ?? 0);
const cpuNow = cpuReaders({
  ...(emulatorPid ? { emulator: () => cpuMsOf(emulatorPid) } : {}),
  postgres: postgresCpu(pgPool, required('DATABASE_NAME')),
  peer: async () => ownCpuMs(),
});
let cpuAtFirstEnd: Promise<Record<string, number>> | null = null;
const ends: number[] = [];
let failures = 0;
let finish!: () => void;
const finished = new Promise<void>((resolve) => (finish = resolve));

const swap: Task = async (_payload, helpers) => {
  try {
    if (task === 'work') {
      const res = await fetch(`${emulatorUrl}/v1/faceswap-v4`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-api-key': emulatorKey },
        body,
      });
      if (!res.ok) throw new Error(`emulator answered ${res.status}: ${await res.text()}`);
      const bytes = Buffer.from(await res.arrayBuffer());
      const sha256 = createHash('sha256').update(bytes).digest('hex');
      const path = join(outDir, `${helpers.job.id}.bin`);
      await writeFile(path, bytes);
      await helpers.query(`INSERT INTO graphile_worker_peer_results (job_id, sha256, path) VALUES ($1, $2, $3)`, [helpers.job.id, sha256, path]);
    }
  } catch (err) {
    failures++;
    console.error(String(err));
  }
  ends.push(performance.now());
  if (ends.length === 1) cpuAtFirstEnd = cpuNow();
  if (ends.length === jobs) finish();
};

const runner = await run({ pgPool, concurrency, taskList: { swap }, noHandleSignals: true, pollInterval: 2000 });
await finished;
const cpuAtLastEnd = await cpuNow();
await runner.stop();
ends.sort((a, b) => a - b);
const seconds = (ends[ends.length - 1]! - ends[0]!) / 1000;
const result = { task, jobs, concurrency, failures, seconds, perSecond: jobs > 1 ? (jobs - 1) / seconds : 0, cpuAtFirstEnd: await cpuAtFirstEnd, cpuAtLastEnd };
await utils.release();
await pgPool.end();
await rm(outDir, { recursive: true, force: true });
console.log(`GRAPHILE_WORKER_RESULT ${JSON.stringify(result)}`);
process.exit(0);
