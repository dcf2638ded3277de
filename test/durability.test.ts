// Nothing lost, nothing paid twice: workers killed with SIGKILL at chosen and
// at random instants, outputs kept after the upstream deletes them, and the
// per-job deadline. Workers run as separate OS processes (npm run worker)
// where a kill matters, in this process otherwise.
import { createHash } from 'node:crypto';
import type { ChildProcess } from 'node:child_process';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator, type Emulator } from '../src/emulator/index.js';
import { startTestApp, type TestApp } from './support/app.js';
import { TARGET_URL, TINY_PNG_BASE64 } from './support/fixtures.js';
import {
  createJobs,
  jobRows,
  sentFingerprints,
  spawnWorker,
  startWorker,
  stopProcess,
  waitForFinalRows,
} from './support/processes.js';
import { pause, waitUntil } from './support/wait.js';

let t: TestApp;
const children: ChildProcess[] = [];
const emulators: Emulator[] = [];

/** The upstream's clock: real time, except that a test can stop it (async requests then stay where they are) and start it again. */
const upstreamClock = {
  offset: 0,
  stoppedAt: null as number | null,
  now(): number {
    return upstreamClock.stoppedAt ?? Date.now() - upstreamClock.offset;
  },
  stop(): void {
    upstreamClock.stoppedAt = upstreamClock.now();
  },
  start(): void {
    if (upstreamClock.stoppedAt === null) return;
    upstreamClock.offset = Date.now() - upstreamClock.stoppedAt;
    upstreamClock.stoppedAt = null;
  },
};

beforeAll(async () => {
  t = await startTestApp({
    worker: false,
    emulator: { latencyMs: { sync: 5, queueStep: 500, workflowStep: 500 }, clock: upstreamClock.now },
  });
});
afterEach(async () => {
  upstreamClock.start();
  t.emulator.clearFaults();
  // A test that failed half way must not leave its workers running into the next one.
  for (const child of children.splice(0)) await stopProcess(child, 'SIGKILL');
});
afterAll(async () => {
  for (const e of emulators) await e.close();
  await t?.close();
});

async function worker(env: Record<string, string> = {}) {
  const child = await spawnWorker(t, { WORKER_LEASE_MS: '1000', ...env });
  children.push(child);
  return child;
}

async function emulator(opts: Parameters<typeof startEmulator>[0]): Promise<Emulator> {
  const e = await startEmulator(opts);
  emulators.push(e);
  return e;
}

// Inputs that differ per job, so each job's submissions can be counted by the fingerprint of what was sent (sentFingerprints).
const url = (kind: string, i: number) => `https://example.com/${kind}/${i}-${Math.random().toString(36).slice(2)}.jpg`;
const JOB = {
  v4: (i: number) => ({ mutation: 'createFaceswapV4Job', input: { sourceImage: url('face', i), targetImage: TARGET_URL } }),
  v3: (i: number) => ({ mutation: 'createFaceswapV3MultiJob', input: { sourceImage: url('face', i), targetImage: TARGET_URL } }),
  v2: (i: number) => ({ mutation: 'createFaceswapV2Job', input: { sourceImage: url('face', i), targetImage: TINY_PNG_BASE64 } }),
  comic: (i: number) => ({ mutation: 'createFaceswapComicJob', input: { sourceImage: url('face', i), targetImage: TARGET_URL } }),
  body: (i: number) => ({ mutation: 'createBodySwapJob', input: { characterImage: url('body', i) } }),
};

const FINAL = ['COMPLETED', 'FAILED', 'CANCELED'];

describe('a worker killed with SIGKILL', () => {
  it('with 200+ async jobs in flight: a new worker polls every one to COMPLETED; each was submitted exactly once', async () => {
    const n = 220;
    const ids = await createJobs(t, Array.from({ length: n }, (_, i) => (i % 2 ? JOB.v2(i) : JOB.body(i))));
    t.emulator.resetStats();
    const env = {
      WORKER_CONCURRENCY: '16',
      UPSTREAM_MAX_CONCURRENCY: '16',
      POLL_INTERVAL_QUEUE_MS: '500',
      POLL_INTERVAL_WORKFLOW_MS: '500',
    };
    // Upstream, no request moves on until the first worker is dead: however long sending 220 takes
    // on a busy machine, every one of them is still in flight at the kill.
    upstreamClock.stop();
    const first = await worker(env);
    // Every job has its upstream handle on its row and none is mid-send: all are in flight upstream.
    await waitUntil(
      async () => {
        const { rows: [r] } = await t.app.db.pool.query(
          `SELECT count(*) FILTER (WHERE upstream_request_id IS NULL OR upstream_status = 'SENDING')::int AS unsent
           FROM jobs WHERE id = ANY($1::uuid[])`,
          [ids],
        );
        return r.unsent === 0;
      },
      async () => `unsent jobs remain; worker output:\n${first.output()}`,
    );
    await stopProcess(first, 'SIGKILL');
    upstreamClock.start();
    const atKill = await jobRows(t.app.db.pool, ids);
    const inFlight = atKill.filter((r) => !FINAL.includes(r.status)).length;
    expect(inFlight).toBe(n);
    const submittedBeforeKill = t.emulator.stats().submissions.total;
    expect(submittedBeforeKill).toBe(n);

    const second = await worker(env);
    // 220 jobs polled every 500 ms by one process: minutes on a machine ten times slower than a quiet one.
    const rows = await waitForFinalRows(t.app.db.pool, ids, 240_000);
    await stopProcess(second);

    expect(rows.filter((r) => r.status !== 'COMPLETED')).toEqual([]);
    const stats = t.emulator.stats();
    expect(stats.submissions.total).toBe(n);
    expect(Object.keys(stats.requests)).toHaveLength(n);
    expect(Object.values(stats.requests).every((r) => r.submissions === 1)).toBe(true);
    // The request each job finished with is the one it was submitted with, and no two jobs share one.
    expect(new Set(rows.map((r) => r.upstream_request_id))).toEqual(new Set(Object.keys(stats.requests)));
    const sent = await sentFingerprints(t, rows);
    for (const r of rows) expect(stats.submissionsByFingerprint[sent.get(r.id)!]).toBe(1);
    // The second worker resumed by polling: it sent no submission at all.
    expect(stats.calls.filter((c) => c.kind === 'submit')).toHaveLength(n);
  });

  it('while a send is held upstream: the job ends UPSTREAM_OUTCOME_UNKNOWN and is never sent again (sync and async)', async () => {
    t.emulator.resetStats();
    // The upstream receives both submissions but answers neither for 20 s: long enough that both
    // are held at once even when a busy machine spaces the two sends by seconds.
    t.emulator.injectFault({ match: { model: 'faceswap-v4', method: 'POST' }, delayMs: 20_000 });
    t.emulator.injectFault({ match: { model: 'faceswap-v2', method: 'POST' }, delayMs: 20_000 });
    const ids = await createJobs(t, [JOB.v4(0), JOB.v2(0)]);
    const first = await worker();
    await waitUntil(
      async () => {
        const rows = await jobRows(t.app.db.pool, ids);
        return rows.every((r) => r.upstream_status === 'SENDING') && t.emulator.stats().inFlight === 2;
      },
      async () => `not both held: ${JSON.stringify(t.emulator.stats().attempts)}`,
    );
    await stopProcess(first, 'SIGKILL');
    const second = await worker();
    const rows = await waitForFinalRows(t.app.db.pool, ids);
    expect(rows.map((r) => [r.model, r.status, r.error_code])).toEqual([
      ['FACESWAP_V4', 'FAILED', 'UPSTREAM_OUTCOME_UNKNOWN'],
      ['FACESWAP_V2', 'FAILED', 'UPSTREAM_OUTCOME_UNKNOWN'],
    ]);
    expect(rows[0]!.error_message).toMatch(/not resent/);
    // Once the held requests run their course, the upstream has accepted (and would bill) each job
    // exactly once, which is why neither may be sent again: one attempt each, from the first worker.
    await waitUntil(() => t.emulator.stats().submissions.total === 2, () => JSON.stringify(t.emulator.stats().submissions));
    await stopProcess(second);
    const stats = t.emulator.stats();
    expect(stats.attempts.byModel).toEqual({ 'faceswap-v4': 1, 'faceswap-v2': 1 });
    const sent = await sentFingerprints(t, rows);
    for (const r of rows) expect(stats.submissionsByFingerprint[sent.get(r.id)!]).toBe(1);
    // Through the API: the typed code.
    const job = await t.gql(`query($id: ID!) { job(id: $id) { status failure { code message } } }`, { id: ids.globalIds[1] });
    expect(job.data.job).toMatchObject({ status: 'FAILED', failure: { code: 'UPSTREAM_OUTCOME_UNKNOWN' } });
  });

  it('at a random instant in a mixed batch: every job COMPLETED or UPSTREAM_OUTCOME_UNKNOWN, none sent twice, none stuck', async () => {
    const upstream = await emulator({ latencyMs: { sync: 250, queueStep: 300, workflowStep: 300 } });
    const makers = [JOB.v4, JOB.v3, JOB.v2, JOB.comic, JOB.body];
    // 150 jobs, killed after 5–45 are done: over 100 still to run (seconds of work at concurrency 8),
    // so the kill lands mid-batch however late a busy machine lets the test observe the count.
    const ids = await createJobs(t, Array.from({ length: 150 }, (_, i) => makers[i % makers.length]!(i)));
    const env = { SEGMIND_BASE_URL: upstream.url, WORKER_CONCURRENCY: '8', POLL_INTERVAL_QUEUE_MS: '100', POLL_INTERVAL_WORKFLOW_MS: '100' };
    const first = await worker(env);
    // A random instant in the middle of the batch: once a random number of jobs are done, plus a random delay.
    const doneAtKill = 5 + Math.floor(Math.random() * 40);
    const extraMs = Math.floor(Math.random() * 100);
    await waitUntil(
      async () => {
        const { rows: [r] } = await t.app.db.pool.query(
          `SELECT count(*)::int AS n FROM jobs WHERE id = ANY($1::uuid[]) AND status IN ('COMPLETED', 'FAILED')`,
          [ids],
        );
        return r.n >= doneAtKill;
      },
      () => first.output(),
      { everyMs: 10 },
    );
    await pause(extraMs); // pacing the kill, not a wait for anything
    await stopProcess(first, 'SIGKILL');
    const liveAtKill = (await jobRows(t.app.db.pool, ids)).filter((r) => !FINAL.includes(r.status)).length;
    expect(liveAtKill).toBeGreaterThan(0);
    const second = await worker(env);
    const rows = await waitForFinalRows(t.app.db.pool, ids);
    await stopProcess(second);

    const stats = upstream.stats();
    const outcomes: Record<string, number> = {};
    const sent = await sentFingerprints(t, rows);
    for (const r of rows) {
      const key = r.status === 'COMPLETED' ? 'COMPLETED' : `${r.status}/${r.error_code}`;
      outcomes[key] = (outcomes[key] ?? 0) + 1;
      expect(key).toMatch(/^(COMPLETED|FAILED\/UPSTREAM_OUTCOME_UNKNOWN)$/);
      const fp = sent.get(r.id)!;
      const attempts = stats.calls.filter((c) => c.kind === 'submit' && c.fingerprint === fp).length;
      expect(attempts, `job ${r.id} (${r.model}, ${key}) was sent ${attempts} times`).toBeLessThanOrEqual(1);
      const submissions = stats.submissionsByFingerprint[fp] ?? 0;
      if (r.status === 'COMPLETED') expect(submissions).toBe(1);
      else expect(submissions).toBeLessThanOrEqual(1); // the upstream may or may not have got it before the kill
    }
    console.log(`killed after ${doneAtKill} jobs + ${extraMs} ms, ${liveAtKill} live: ${JSON.stringify(outcomes)}`);
    expect(outcomes.COMPLETED).toBeGreaterThan(0);
  });
});

describe('outputs and deadlines', () => {
  it('keeps outputs readable after the upstream has deleted them', async () => {
    const upstream = await emulator({ latencyMs: { queueStep: 50, workflowStep: 50 } });
    const ids = await createJobs(t, [JOB.v2(1), JOB.body(1)]);
    const w = await startWorker(t, { baseUrl: upstream.url });
    let rows;
    try {
      rows = await waitForFinalRows(t.app.db.pool, ids);
    } finally {
      await w.stop();
    }
    expect(rows.map((r) => r.status)).toEqual(['COMPLETED', 'COMPLETED']);
    // The upstream forgets them, as it does an hour after they finish...
    upstream.forgetRequests();
    for (const [i, row] of rows.entries()) {
      const mediaUrl = row.result?.outputUrl as string;
      expect(mediaUrl.startsWith(upstream.url)).toBe(true);
      expect((await fetch(mediaUrl)).status).toBe(404);
      // ...and ours still serves the same bytes.
      const res = await t.gql(`query($id: ID!) { job(id: $id) { output { url sha256 bytes } } }`, { id: ids.globalIds[i] });
      const output = res.data.job.output;
      const download = await fetch(output.url, { headers: { authorization: `Bearer ${t.key}` } });
      expect(download.status).toBe(200);
      const bytes = Buffer.from(await download.arrayBuffer());
      expect(bytes.length).toBe(output.bytes);
      expect(createHash('sha256').update(bytes).digest('hex')).toBe(output.sha256);
    }
  });

  it('ends a job TIMEOUT when the upstream is still PROCESSING at the deadline', async () => {
    const upstream = await emulator({ latencyMs: { queueStep: 50, workflowStep: 50 } });
    upstream.injectFault({ match: { model: 'faceswap-v2' }, processingMs: 60_000 });
    upstream.injectFault({ match: { model: 'ai-body-swap' }, processingMs: 60_000 });
    const ids = await createJobs(t, [JOB.v2(2), JOB.body(2)]);
    const started = Date.now();
    // Long enough that a normal job completes within it on a machine ten times slower than a quiet one.
    const w = await startWorker(t, { baseUrl: upstream.url, worker: { deadlineMs: 5000, concurrency: 1 } });
    let rows;
    try {
      rows = await waitForFinalRows(t.app.db.pool, ids);
      // A normal job under the same deadline completes.
      const normal = await createJobs(t, [JOB.v2(3)]);
      expect((await waitForFinalRows(t.app.db.pool, normal))[0]!.status).toBe('COMPLETED');
    } finally {
      await w.stop();
    }
    expect(Date.now() - started).toBeGreaterThanOrEqual(5000);
    expect(rows.map((r) => [r.status, r.error_code, r.upstream_status])).toEqual([
      ['FAILED', 'TIMEOUT', 'PROCESSING'],
      ['FAILED', 'TIMEOUT', 'PROCESSING'],
    ]);
    expect(rows[0]!.error_message).toMatch(/5 s after submission/);
  });
});
