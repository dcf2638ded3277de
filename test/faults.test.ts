// Injected upstream faults end every job COMPLETED (transient faults, retried
// with backoff, never sooner than Retry-After) or FAILED with its typed
// reason (permanent ones); the per-worker concurrency limit and the shared
// submission rate limit hold.
import { backoffDelay } from '../src/services/worker.js';
import type { ChildProcess } from 'node:child_process';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator, type Emulator, type EmulatorCall, type Fault } from '../src/emulator/index.js';
import { Semaphore, SubmissionRateLimiter } from '../src/services/providers/limits.js';
import { startTestApp, type TestApp } from './support/app.js';
import { TARGET_URL, TINY_PNG_BASE64 } from './support/fixtures.js';
import { createJobs, sentFingerprints, spawnWorker, startWorker, stopProcess, waitForFinalRows, type JobRow } from './support/processes.js';

let t: TestApp;
const children: ChildProcess[] = [];
const emulators: Emulator[] = [];

beforeAll(async () => {
  t = await startTestApp({ worker: false });
});
afterEach(() => {
  t.emulator.clearFaults();
});
afterAll(async () => {
  for (const child of children) await stopProcess(child, 'SIGKILL');
  for (const e of emulators) await e.close();
  await t?.close();
});

const url = (kind: string, i: number) => `https://example.com/${kind}/${i}-${Math.random().toString(36).slice(2)}.jpg`;
const JOB = {
  v4: (i: number) => ({ mutation: 'createFaceswapV4Job', input: { sourceImage: url('face', i), targetImage: TARGET_URL } }),
  v3: (i: number) => ({ mutation: 'createFaceswapV3MultiJob', input: { sourceImage: url('face', i), targetImage: TARGET_URL } }),
  v2: (i: number) => ({ mutation: 'createFaceswapV2Job', input: { sourceImage: url('face', i), targetImage: TINY_PNG_BASE64 } }),
  comic: (i: number) => ({ mutation: 'createFaceswapComicJob', input: { sourceImage: url('face', i), targetImage: TARGET_URL } }),
  body: (i: number) => ({ mutation: 'createBodySwapJob', input: { characterImage: url('body', i) } }),
};

/**
 * Upstream deadlines short enough that a hang is a timeout in a test, and long
 * enough that no ordinary call of a loaded machine runs into them: at 3 s, a run
 * at load 15 once saw a faceswap-v4 call answered 406 after its deadline (an
 * unknown outcome instead of INSUFFICIENT_CREDITS). A hang outlasts the deadline.
 */
const SHORT_TIMEOUTS = { requestTimeoutMs: 8_000, callTimeoutMs: 8_000 };
const HANG = 20_000;

function outcome(r: JobRow): string {
  return r.status === 'COMPLETED' ? 'COMPLETED' : `${r.status}/${r.error_code}`;
}

function tally(rows: JobRow[]): Record<string, Record<string, number>> {
  const out: Record<string, Record<string, number>> = {};
  for (const r of rows) {
    const byOutcome = (out[r.model] ??= {});
    byOutcome[outcome(r)] = (byOutcome[outcome(r)] ?? 0) + 1;
  }
  return out;
}

/** The calls that concern one job: its submissions (by fingerprint) and its polls (by request id). */
function callsOf(calls: EmulatorCall[], r: JobRow, fp: string): EmulatorCall[] {
  return calls.filter((c) => c.fingerprint === fp || (r.upstream_request_id !== null && c.requestId === r.upstream_request_id));
}

describe('a mix of injected faults', () => {
  it('ends every job across all five models COMPLETED or FAILED with its typed reason and the vendor detail; nothing stuck', async () => {
    const submit = (model: string) => ({ model, method: 'POST' });
    const faults: Fault[] = [
      // faceswap-v4 (sync): two transient, two permanent.
      { match: submit('faceswap-v4'), response: { status: 429, retryAfterSeconds: 1 } },
      { match: submit('faceswap-v4'), response: { status: 500 } },
      { match: submit('faceswap-v4'), response: { status: 406, body: { error: 'Insufficient credits: balance 0.00' } } },
      { match: submit('faceswap-v4'), response: { status: 400, body: { error: 'source_image: could not decode image' } } },
      // faceswap-v3-multifaceswap (sync)
      { match: submit('faceswap-v3-multifaceswap'), times: 2, response: { status: 502 } },
      { match: submit('faceswap-v3-multifaceswap'), drop: true },
      { match: submit('faceswap-v3-multifaceswap'), response: { status: 403, body: { error: 'Forbidden: this key may not use the model' } } },
      { match: submit('faceswap-v3-multifaceswap'), response: { status: 422, body: { error: 'NSFW content detected in the target image' } } },
      // faceswap-comic (sync): 503 is retried; 504 and a hang past the client's deadline are unknown outcomes.
      { match: submit('faceswap-comic'), response: { status: 503 } },
      { match: submit('faceswap-comic'), response: { status: 504 } },
      { match: submit('faceswap-comic'), delayMs: HANG, drop: true },
      { match: submit('faceswap-comic'), response: { status: 401 } },
      // faceswap-v2 (queue): faults on the submit, on the polls, and in the outcome.
      { match: submit('faceswap-v2'), response: { status: 429, retryAfterSeconds: 1 } },
      { match: submit('faceswap-v2'), drop: true },
      { match: submit('faceswap-v2'), response: { status: 406 } },
      { match: { model: 'faceswap-v2', path: '/v2/requests/*' }, times: 2, response: { status: 500 } },
      { match: { model: 'faceswap-v2', path: '/v2/requests/*' }, response: { status: 429, retryAfterSeconds: 1 } },
      { match: { model: 'faceswap-v2', path: '/v2/requests/*' }, delayMs: HANG },
      { match: { model: 'faceswap-v2', path: '/v2/requests/*' }, drop: true },
      { match: { model: 'faceswap-v2' }, outcome: 'FAILED', error: 'content blocked by RAI policy' },
      { match: { model: 'faceswap-v2' }, processingMs: 500 },
      // ai-body-swap (workflow)
      { match: submit('ai-body-swap'), response: { status: 500 } },
      { match: submit('ai-body-swap'), response: { status: 400, body: { error: 'character_image: the URL could not be fetched' } } },
      { match: { model: 'ai-body-swap', path: '/workflows/request/*' }, response: { status: 502 } },
      { match: { model: 'ai-body-swap', path: '/workflows/request/*' }, drop: true },
      { match: { model: 'ai-body-swap', path: '/workflows/request/*' }, delayMs: HANG },
      { match: { model: 'ai-body-swap' }, outcome: 'FAILED', error: 'NSFW content detected' },
      { match: { model: 'ai-body-swap' }, processingMs: 500 },
    ];
    for (const f of faults) t.emulator.injectFault(f);
    t.emulator.resetStats();

    const perModel = 8;
    const ids = await createJobs(
      t,
      Array.from({ length: perModel }, (_, i) => [JOB.v4(i), JOB.v3(i), JOB.comic(i), JOB.v2(i), JOB.body(i)]).flat(),
    );
    const started = Date.now();
    const w = await startWorker(t, { upstream: SHORT_TIMEOUTS });
    let rows: JobRow[];
    try {
      rows = await waitForFinalRows(t.app.db.pool, ids);
    } finally {
      await w.stop();
    }
    const elapsed = Date.now() - started;

    expect(tally(rows)).toEqual({
      FACESWAP_V4: { COMPLETED: 6, 'FAILED/INSUFFICIENT_CREDITS': 1, 'FAILED/INVALID_INPUT': 1 },
      // A submit dropped after sending, timed out, or answered 504 may be running upstream: never resent.
      FACESWAP_V3_MULTI: { COMPLETED: 5, 'FAILED/FORBIDDEN': 1, 'FAILED/CONTENT_BLOCKED': 1, 'FAILED/UPSTREAM_OUTCOME_UNKNOWN': 1 },
      FACESWAP_COMIC: { COMPLETED: 5, 'FAILED/UNAUTHORIZED': 1, 'FAILED/UPSTREAM_OUTCOME_UNKNOWN': 2 },
      FACESWAP_V2: { COMPLETED: 5, 'FAILED/INSUFFICIENT_CREDITS': 1, 'FAILED/CONTENT_BLOCKED': 1, 'FAILED/UPSTREAM_OUTCOME_UNKNOWN': 1 },
      BODY_SWAP: { COMPLETED: 6, 'FAILED/INVALID_INPUT': 1, 'FAILED/CONTENT_BLOCKED': 1 },
    });
    // The vendor's own words are in the failure.
    const messages = rows.filter((r) => r.status === 'FAILED').map((r) => `${r.model} ${r.error_code}: ${r.error_message}`);
    for (const detail of [
      'FACESWAP_V4 INSUFFICIENT_CREDITS: Segmind 406 (insufficient credits): Insufficient credits: balance 0.00',
      'FACESWAP_V4 INVALID_INPUT: Segmind 400 (bad request): source_image: could not decode image',
      'FACESWAP_V3_MULTI FORBIDDEN: Segmind 403 (forbidden): Forbidden: this key may not use the model',
      'FACESWAP_V3_MULTI CONTENT_BLOCKED: blocked by the upstream: NSFW content detected in the target image',
      'FACESWAP_COMIC UNAUTHORIZED: Segmind 401 (missing or invalid API key): Unauthorized: missing or invalid API key',
      'FACESWAP_V2 INSUFFICIENT_CREDITS: Segmind 406 (insufficient credits): Insufficient Credits: not enough credits to process request',
      'FACESWAP_V2 CONTENT_BLOCKED: blocked by the upstream: content blocked by RAI policy',
      'BODY_SWAP INVALID_INPUT: Segmind 400 (bad request): character_image: the URL could not be fetched',
      'BODY_SWAP CONTENT_BLOCKED: blocked by the upstream: NSFW content detected',
      'FACESWAP_COMIC UPSTREAM_OUTCOME_UNKNOWN: Segmind 504 (gateway timeout after the request was received; not resent): Timeout: request timed out',
    ]) {
      expect(messages).toContain(detail);
    }
    // Every fault was met (none left armed), and so every kind was exercised.
    const armed = (await (await fetch(`${t.emulator.url}/__emulator/faults`)).json()) as { faults: unknown[] };
    expect(armed.faults).toEqual([]);

    const stats = t.emulator.stats();
    expect(stats.calls.filter((c) => c.fault === 'drop').length).toBe(5);
    expect(stats.calls.filter((c) => c.fault === 'delay').length).toBe(2);
    const sent = await sentFingerprints(t, rows);
    for (const r of rows) {
      // A faulted request was never processed upstream, so it cost nothing: a job that completed, or that
      // the upstream accepted and then failed (an async content block), was accepted exactly once; a job
      // refused at submission never was.
      const acceptedUpstream = r.status === 'COMPLETED' || (r.error_code === 'CONTENT_BLOCKED' && r.upstream_request_id !== null);
      const submissions = stats.submissionsByFingerprint[sent.get(r.id)!] ?? 0;
      expect(submissions, `${r.model} ${outcome(r)}`).toBe(acceptedUpstream ? 1 : 0);
      // Retry-After honoured: after a 429, this job's next call came no sooner than the upstream asked.
      const calls = callsOf(stats.calls, r, sent.get(r.id)!);
      calls.forEach((c, i) => {
        if (c.status !== 429) return;
        const next = calls[i + 1];
        expect(next, `${r.model}: no call after the 429`).toBeDefined();
        expect(next!.at - c.at, `${r.model}: retried ${next!.at - c.at} ms after a 429 with Retry-After: 1`).toBeGreaterThanOrEqual(1000);
      });
    }
    expect(stats.calls.filter((c) => c.status === 429)).toHaveLength(3);
    console.log(`fault mix: ${rows.length} jobs final in ${elapsed} ms`);
  });

  it('a wrong API key ends every model UNAUTHORIZED at once, with the vendor detail', async () => {
    t.emulator.resetStats();
    const ids = await createJobs(t, [JOB.v4(0), JOB.v3(0), JOB.v2(0), JOB.comic(0), JOB.body(0)]);
    const w = await startWorker(t, { apiKey: 'not-the-key' });
    let rows: JobRow[];
    try {
      rows = await waitForFinalRows(t.app.db.pool, ids);
    } finally {
      await w.stop();
    }
    for (const r of rows) {
      expect(outcome(r)).toBe('FAILED/UNAUTHORIZED');
      expect(r.error_message).toContain('Unauthorized: invalid API key');
    }
    const stats = t.emulator.stats();
    expect(stats.attempts.total).toBe(5); // not retried
    expect(stats.submissions.total).toBe(0);
  });

  it('a 404 while polling, past the visibility grace, means the request expired upstream: EXPIRED', async () => {
    t.emulator.injectFault({ match: { model: 'faceswap-v2', path: '/v2/requests/*' }, response: { status: 404 } });
    t.emulator.injectFault({ match: { model: 'ai-body-swap', path: '/workflows/request/*' }, response: { status: 404 } });
    const ids = await createJobs(t, [JOB.v2(9), JOB.body(9)]);
    // No grace: an early 404 is "not visible yet" otherwise (upstream-answers.test.ts).
    const w = await startWorker(t, { upstream: { visibilityGraceMs: 0 } });
    try {
      const rows = await waitForFinalRows(t.app.db.pool, ids);
      expect(rows.map(outcome)).toEqual(['FAILED/EXPIRED', 'FAILED/EXPIRED']);
      expect(rows[0]!.error_message).toMatch(/Segmind 404 \(request unknown or expired\)/);
    } finally {
      await w.stop();
    }
  });
});

describe('retry timing', () => {
  it('backoffDelay: exponential within [base·2ⁿ/2, base·2ⁿ], capped, never before Retry-After', () => {
    const cfg = { retryBaseMs: 100, retryMaxMs: 1000 };
    for (let n = 0; n < 4; n++) {
      expect(backoffDelay(cfg, n, undefined, () => 0)).toBe((100 * 2 ** n) / 2);
      expect(backoffDelay(cfg, n, undefined, () => 0.999999)).toBeLessThan(100 * 2 ** n);
    }
    expect(backoffDelay(cfg, 10, undefined, () => 0.999999)).toBeLessThan(1000);
    expect(backoffDelay(cfg, 10, undefined, () => 0)).toBe(500);
    expect(backoffDelay(cfg, 0, 2000, () => 0.5)).toBe(2000);
    expect(backoffDelay(cfg, 5, 10, () => 0)).toBe(500);
  });

  // Wall-clock waits only have lower bounds here: a busy machine may add delay, never remove it.
  it('backs off exponentially: each observed wait is at least base·2ⁿ/2', async () => {
    t.emulator.injectFault({ match: { model: 'faceswap-v4' }, times: 4, response: { status: 503 } });
    t.emulator.resetStats();
    const ids = await createJobs(t, [JOB.v4(20)]);
    const base = 100;
    const w = await startWorker(t, { worker: { retryBaseMs: base, retryMaxMs: 10_000 } });
    let rows: JobRow[];
    try {
      rows = await waitForFinalRows(t.app.db.pool, ids);
    } finally {
      await w.stop();
    }
    expect(rows[0]!.status).toBe('COMPLETED');
    const attempts = t.emulator.stats().calls.filter((c) => c.kind === 'submit');
    expect(attempts.map((c) => c.status)).toEqual([503, 503, 503, 503, 200]);
    const waits = attempts.slice(1).map((c, i) => c.at - attempts[i]!.at);
    waits.forEach((wait, n) => {
      expect(wait, `wait ${n}: ${waits}`).toBeGreaterThanOrEqual((base * 2 ** n) / 2);
    });
  });

  it('never retries before Retry-After, even when the backoff alone would be much sooner', async () => {
    t.emulator.injectFault({ match: { model: 'faceswap-v4' }, response: { status: 429, retryAfterSeconds: 2 } });
    t.emulator.resetStats();
    const ids = await createJobs(t, [JOB.v4(21)]);
    const w = await startWorker(t, { worker: { retryBaseMs: 10, retryMaxMs: 50 } });
    try {
      expect((await waitForFinalRows(t.app.db.pool, ids))[0]!.status).toBe('COMPLETED');
    } finally {
      await w.stop();
    }
    const [first, second] = t.emulator.stats().calls.filter((c) => c.kind === 'submit');
    expect(first!.status).toBe(429);
    expect(second!.at - first!.at).toBeGreaterThanOrEqual(2000);
  });
});

describe('limits', () => {
  it('the concurrency limit caps simultaneous upstream calls (submits and polls) of a worker', async () => {
    t.emulator.injectFault({ match: { model: 'faceswap-v4' }, times: 'always', delayMs: 60 });
    t.emulator.injectFault({ match: { model: 'faceswap-v2', path: '/v2/requests/*' }, times: 'always', delayMs: 30 });
    t.emulator.resetStats();
    const ids = await createJobs(t, Array.from({ length: 12 }, (_, i) => [JOB.v4(30 + i), JOB.v2(30 + i)]).flat());
    const w = await startWorker(t, { worker: { concurrency: 12 }, upstream: { maxConcurrency: 3 } });
    try {
      const rows = await waitForFinalRows(t.app.db.pool, ids);
      expect(rows.every((r) => r.status === 'COMPLETED')).toBe(true);
    } finally {
      await w.stop();
    }
    const stats = t.emulator.stats();
    expect(stats.maxInFlight).toBe(3);
    expect(stats.calls.filter((c) => c.kind === 'poll').length).toBeGreaterThan(12);
  });

  it('the rate limit holds across two worker processes, and waiting for it is not a failure', async () => {
    const limit = 2;
    const windowMs = 500;
    const n = 24; // 12 windows: the last jobs wait out 11 refusals, more than the 10 transient failures a job may have
    const other = await startEmulator();
    emulators.push(other);
    const ids = await createJobs(t, Array.from({ length: n }, (_, i) => JOB.v4(40 + i)));
    // Held back until both workers run, then due together just after a window opens.
    await t.app.db.pool.query(`UPDATE jobs SET run_at = now() + interval '1 hour' WHERE id = ANY($1::uuid[])`, [ids]);
    t.emulator.resetStats();
    const env = { UPSTREAM_RATE_PER_MINUTE: String(limit), UPSTREAM_RATE_WINDOW_MS: String(windowMs), WORKER_CONCURRENCY: '8' };
    // One emulator per worker process, so each process's submissions are told apart.
    const workers = await Promise.all([spawnWorker(t, env), spawnWorker(t, { ...env, SEGMIND_BASE_URL: other.url })]);
    children.push(...workers);
    const start = Math.ceil((Date.now() + 300) / windowMs) * windowMs + 20;
    await t.app.db.pool.query(`UPDATE jobs SET run_at = to_timestamp($2 / 1000.0) WHERE id = ANY($1::uuid[])`, [ids, start]);
    let rows: JobRow[];
    try {
      rows = await waitForFinalRows(t.app.db.pool, ids);
    } finally {
      for (const child of workers) await stopProcess(child);
    }
    expect(rows.filter((r) => r.status !== 'COMPLETED')).toEqual([]);
    expect(rows.every((r) => r.attempts === 0)).toBe(true); // refusals by our own limit are not counted as failures

    const submits = [t.emulator, other].flatMap((e) => e.stats().calls.filter((c) => c.kind === 'submit'));
    expect(submits).toHaveLength(n);
    expect(t.emulator.stats().submissions.total).toBeGreaterThan(0);
    expect(other.stats().submissions.total).toBeGreaterThan(0);
    // Admission is what the limit governs, in PostgreSQL's windows: never more than `limit` in one.
    // (Arrival times upstream can bunch at a window's edge, as with any fixed-window limit.)
    const { rows: [counted] } = await t.app.db.pool.query(
      `SELECT sum(count)::int AS sent, max(count)::int AS most, count(*)::int AS windows
       FROM upstream_rate_windows WHERE provider = 'segmind'`,
    );
    expect(counted).toMatchObject({ sent: n, most: limit });
    expect(counted.windows).toBeGreaterThanOrEqual(n / limit);
    // And the upstream saw them spread out, not in a burst (unthrottled, all 24 arrive within ~100 ms).
    // Causal bound, so send latency cannot shorten it: nothing was admitted before `start`, whose
    // epoch-aligned window is the first; the last admission is n/limit - 1 windows later, and
    // arrives upstream no earlier than that window opened.
    const firstWindow = Math.floor(start / windowMs) * windowMs;
    const lastArrival = Math.max(...submits.map((c) => c.at));
    expect(lastArrival).toBeGreaterThanOrEqual(firstWindow + (n / limit - 1) * windowMs);
  });

  it('the shared counter never hands out more than the limit per window, however many ask at once', async () => {
    const pools = Array.from({ length: 6 }, () => new pg.Pool({ connectionString: t.databaseUrl, max: 4 }));
    try {
      // A long window, so all 60 takes fall in one (or, at worst, straddle two).
      const limiters = pools.map((p) => new SubmissionRateLimiter(p, 'burst-test', 5, 60_000));
      const verdicts = await Promise.all(Array.from({ length: 60 }, (_, i) => limiters[i % limiters.length]!.take()));
      const granted = verdicts.filter((v) => v.ok).length;
      expect([5, 10]).toContain(granted);
      const refused = verdicts.find((v) => !v.ok) as { ok: false; retryAfterMs: number };
      expect(refused.retryAfterMs).toBeGreaterThan(0);
      expect(refused.retryAfterMs).toBeLessThanOrEqual(60_000);
    } finally {
      await Promise.all(pools.map((p) => p.end()));
    }
  });

  it('the semaphore admits in order and lets an aborted waiter leave the line', async () => {
    const s = new Semaphore(2);
    const a = await s.acquire();
    const b = await s.acquire();
    const order: string[] = [];
    const abort = new AbortController();
    const c = s.acquire().then((r) => (order.push('c'), r));
    const d = s.acquire(abort.signal).then(() => order.push('d'), () => order.push('d aborted'));
    const e = s.acquire().then((r) => (order.push('e'), r));
    abort.abort();
    await d;
    a();
    a(); // a second release of the same slot is a no-op
    (await c)();
    b();
    (await e)();
    expect(order).toEqual(['d aborted', 'c', 'e']);
    expect([s.inUse, s.queued]).toEqual([0, 0]);
  });
});
