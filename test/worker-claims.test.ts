// No job is ever taken by two workers at once.
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { claimAndMarkSending, claimJobs, complete, markSubmittedSending } from '../src/services/job-steps.js';
import { moveBatchStats } from '../src/services/job-transitions.js';
import { withUpstreamLimits } from '../src/services/providers/limits.js';
import type { UpstreamProvider } from '../src/services/providers/types.js';
import { startTestApp, type TestApp } from './support/app.js';
import { createMutation, MODEL_CASES } from './support/fixtures.js';
import { startWorker } from './support/processes.js';
import { pause, waitUntil } from './support/wait.js';

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp({ worker: false });
});
afterAll(async () => {
  await t?.close();
});

async function insertQueuedJobs(pool: pg.Pool, n: number): Promise<string[]> {
  const { rows: [key] } = await pool.query(`SELECT id FROM api_keys LIMIT 1`);
  const ids = Array.from({ length: n }, () => randomUUID());
  await pool.query(
    `INSERT INTO jobs (id, api_key_id, model, provider, params)
     SELECT unnest($1::uuid[]), $2, 'FACESWAP_V4', 'segmind', '{}'::jsonb`,
    [ids, key.id],
  );
  return ids;
}

describe('claims', () => {
  it('concurrent claimers on separate connections never get the same job', async () => {
    const ids = await insertQueuedJobs(t.app.db.pool, 400);
    const pools = Array.from({ length: 8 }, () => new pg.Pool({ connectionString: t.databaseUrl, max: 1 }));
    const taken: string[][] = pools.map(() => []);
    try {
      await Promise.all(pools.map(async (pool, i) => {
        for (;;) {
          const batch = await claimJobs(pool, `claimer-${i}`, 7, 60_000);
          if (batch.length === 0) return;
          taken[i]!.push(...batch.map((j) => j.id));
        }
      }));
    } finally {
      await Promise.all(pools.map((p) => p.end()));
    }
    const all = taken.flat();
    expect(all.length).toBe(ids.length);
    expect(new Set(all).size).toBe(ids.length);
    expect(taken.filter((x) => x.length > 0).length).toBeGreaterThan(1);
    // Leased jobs are not claimable again until the lease runs out.
    expect(await claimJobs(t.app.db.pool, 'late', 10, 60_000)).toEqual([]);
    await t.app.db.pool.query(`DELETE FROM jobs WHERE id = ANY($1::uuid[])`, [ids]);
  });

  it('an expired lease makes the job claimable by another worker', async () => {
    const [id] = await insertQueuedJobs(t.app.db.pool, 1);
    expect((await claimJobs(t.app.db.pool, 'a', 1, 1)).map((j) => j.id)).toEqual([id]);
    await pause(20); // the 1 ms lease has run out (clocks only run late, never early)
    expect((await claimJobs(t.app.db.pool, 'b', 1, 60_000)).map((j) => j.id)).toEqual([id]);
    await t.app.db.pool.query(`DELETE FROM jobs WHERE id = $1`, [id]);
  });

  it('two workers run 120 queued async jobs: each submitted upstream exactly once, each with one clean history', async () => {
    const mutation = createMutation('createFaceswapV2Job', 'CreateFaceswapV2JobInput');
    const created = await Promise.all(
      Array.from({ length: 120 }, () => t.gql(mutation, { input: MODEL_CASES[2].input })),
    );
    const jobIds = created.map((r) => r.data.result.id);
    t.emulator.resetStats();

    const workers = await Promise.all([0, 1].map(() => startWorker(t, { worker: { concurrency: 8 } })));
    try {
      let r = { done: 0, n: 0 };
      await waitUntil(
        async () => {
          [r] = (await t.app.db.pool.query(
            `SELECT count(*) FILTER (WHERE status = 'COMPLETED')::int AS done, count(*)::int AS n FROM jobs WHERE model = 'FACESWAP_V2'`,
          )).rows;
          return r.done === r.n;
        },
        () => `only ${r.done}/${r.n} completed`,
        { everyMs: 100 },
      );
    } finally {
      for (const w of workers) await w.stop();
    }
    const stats = t.emulator.stats();
    expect(stats.submissions.total).toBe(120);
    expect(Object.values(stats.requests).every((r) => r.submissions === 1)).toBe(true);
    const { rows } = await t.app.db.pool.query(
      `SELECT job_id, array_agg(status::text ORDER BY id) AS statuses FROM job_events GROUP BY job_id`,
    );
    const histories = new Map(rows.map((r) => [r.job_id, r.statuses]));
    for (const id of jobIds) {
      const uuid = Buffer.from(id, 'base64').toString().split(':')[1];
      // PROCESSING appears only when a poll caught the upstream in that state.
      expect([
        ['QUEUED', 'SUBMITTED', 'PROCESSING', 'COMPLETED'],
        ['QUEUED', 'SUBMITTED', 'COMPLETED'],
      ]).toContainEqual(histories.get(uuid));
    }
  });

  async function runWithProvider(provider: any, jobInput: { mutation: string; input: object }) {
    const job = (await t.gql(createMutation(jobInput.mutation, `${jobInput.mutation[0]!.toUpperCase()}${jobInput.mutation.slice(1)}Input`), { input: jobInput.input })).data.result;
    const uuid = Buffer.from(job.id, 'base64').toString().split(':')[1];
    const running = await startWorker(t, { provider, worker: { retryBaseMs: 5, retryMaxMs: 20 } });
    try {
      let r: { status: string; error_code: string | null; error_message: string | null } | undefined;
      return await waitUntil(
        async () => {
          [r] = (await t.app.db.pool.query(`SELECT status, error_code, error_message FROM jobs WHERE id = $1`, [uuid])).rows;
          return r?.status === 'FAILED' && r;
        },
        () => `still ${r?.status}`,
        { everyMs: 50 },
      );
    } finally {
      await running.stop();
    }
  }

  it('a send that throws is an unknown outcome: FAILED at once, never resent', async () => {
    let calls = 0;
    const r = await runWithProvider(
      { name: 'broken', submit: async () => { calls++; throw new Error('boom'); }, poll: async () => { throw new Error('unused'); } },
      MODEL_CASES[0],
    );
    expect([r.error_code, calls]).toEqual(['UPSTREAM_OUTCOME_UNKNOWN', 1]);
    expect(r.error_message).toContain('boom');
  });

  it('a poll that keeps throwing ends the job FAILED after the retry budget instead of looping forever', async () => {
    let polls = 0;
    const r = await runWithProvider(
      {
        name: 'broken-poll',
        submit: async () => ({ kind: 'accepted', requestId: 'r-1', pollUrl: null, upstream: {} }),
        poll: async () => { polls++; throw new Error('bad poll'); },
      },
      MODEL_CASES[2],
    );
    expect(r.error_code).toBe('UPSTREAM_ERROR');
    expect(r.error_message).toContain('bad poll');
    expect(polls).toBe(10);
  });
});

describe('claim and mark SENDING in one statement (a new sync job named by its NOTIFY)', () => {
  const sqlOf = (id: string) =>
    t.app.db.pool.query(`SELECT status, upstream_status, locked_by, locked_until, submitted_at, error_message FROM jobs WHERE id = $1`, [id]).then((r) => r.rows[0]);
  const eventsOf = (id: string) =>
    t.app.db.pool.query(`SELECT status::text FROM job_events WHERE job_id = $1 ORDER BY id`, [id]).then((r) => r.rows.map((e) => e.status));

  it('takes a due QUEUED job once: SUBMITTED, SENDING, leased, with its event', async () => {
    const [id] = await insertQueuedJobs(t.app.db.pool, 1);
    const job = await claimAndMarkSending(t.app.db.pool, id!, 'w-1', 60_000);
    expect(job).toMatchObject({ id, status: 'SUBMITTED', upstreamStatus: 'SENDING' });
    expect(job!.submittedAt).toBeInstanceOf(Date);
    expect(await sqlOf(id!)).toMatchObject({ status: 'SUBMITTED', upstream_status: 'SENDING', locked_by: 'w-1' });
    expect(await eventsOf(id!)).toEqual(['SUBMITTED']);
    // Once taken, by this worker or another, it is nobody's to take again.
    expect(await claimAndMarkSending(t.app.db.pool, id!, 'w-2', 60_000)).toBeNull();
    expect(await eventsOf(id!)).toEqual(['SUBMITTED']);
    await t.app.db.pool.query(`DELETE FROM jobs WHERE id = $1`, [id]);
  });

  it('leaves alone a job leased by the claim loop, one not yet due, and one canceled', async () => {
    const [leased, later, canceled] = await insertQueuedJobs(t.app.db.pool, 3);
    await t.app.db.pool.query(`UPDATE jobs SET locked_by = 'loop', locked_until = now() + interval '1 minute' WHERE id = $1`, [leased]);
    await t.app.db.pool.query(`UPDATE jobs SET run_at = now() + interval '1 minute' WHERE id = $1`, [later]);
    await t.app.db.pool.query(`UPDATE jobs SET status = 'CANCELED' WHERE id = $1`, [canceled]);
    for (const id of [leased, later, canceled]) {
      expect(await claimAndMarkSending(t.app.db.pool, id!, 'w-1', 60_000)).toBeNull();
      expect(await eventsOf(id!)).toEqual([]);
    }
    expect((await sqlOf(leased!)).locked_by).toBe('loop');
    await t.app.db.pool.query(`DELETE FROM jobs WHERE id = ANY($1::uuid[])`, [[leased, later, canceled]]);
  });

  it('two workers: every new sync job is sent exactly once; jobs created alone are claimed this way', async () => {
    t.emulator.resetStats();
    // A slow idle poll: at the tests' 50 ms one, a poll between a create's commit and its NOTIFY's
    // arrival takes the job first often enough on a loaded machine to make the count below a coin toss.
    const workers = await Promise.all([0, 1].map(() => startWorker(t, { worker: { concurrency: 4, idlePollMs: ASIDE_IDLE_POLL_MS } })));
    // One of them leads (a worker stopped by an earlier test may hold the lead until its session ends;
    // the others try again once per idle poll).
    await until(() => workers.some((w) => w.worker.leads()));
    const mutation = createMutation('createFaceswapV4Job', 'CreateFaceswapV4JobInput');
    const ids: string[] = [];
    const create = async (n: number, round: number) => {
      const created = await Promise.all(Array.from({ length: n }, (_, i) =>
        t.gql(mutation, { input: { ...MODEL_CASES[0].input, sourceImage: `https://example.com/faces/aside-${round}-${n}-${i}.jpg` } })));
      const uuids = created.map((r) => Buffer.from(r.data.result.id, 'base64').toString().split(':')[1]!);
      ids.push(...uuids);
      for (const id of uuids) await waitForStatus(id, 'COMPLETED');
    };
    try {
      // One alone (its NOTIFY names it), then three at once (created alone or in a batch, whose
      // NOTIFY names none, depending on timing): the loops' claims and the claims aside meet.
      for (let round = 0; round < 10; round++) {
        await create(1, round);
        await create(3, round);
      }
    } finally {
      for (const w of workers) await w.stop();
    }
    const stats = t.emulator.stats();
    expect(stats.submissions.total).toBe(ids.length);
    expect(Object.values(stats.submissionsByFingerprint).every((n) => n === 1)).toBe(true);
    for (const id of ids) expect(await eventsOf(id)).toEqual(['QUEUED', 'SUBMITTED', 'COMPLETED']);
    // Most of the ten created alone: an idle poll may still catch one first on a busy machine.
    const aside = workers.reduce((n, w) => n + w.worker.claimedAside, 0);
    expect(aside).toBeGreaterThanOrEqual(5);
    expect(aside).toBeLessThanOrEqual(ids.length);
  });

  it('a send that throws after such a claim is an unknown outcome: FAILED at once, never resent', async () => {
    let calls = 0;
    // An idle poll far off, so that the notice, not a poll, is what finds the job (see above).
    const { worker, stop } = await startWorker(t, {
      worker: { idlePollMs: ASIDE_IDLE_POLL_MS },
      provider: { name: 'broken', submit: async () => { calls++; throw new Error('boom'); }, poll: async () => { throw new Error('unused'); } },
    });
    try {
      await until(() => worker.leads() && worker.idle()); // it leads, and its claims have found the queue empty
      const res = await t.gql(createMutation('createFaceswapV4Job', 'CreateFaceswapV4JobInput'), { input: MODEL_CASES[0].input });
      const id = Buffer.from(res.data.result.id, 'base64').toString().split(':')[1]!;
      const row = await waitForStatus(id, 'FAILED');
      expect([row.error_code, calls, worker.claimedAside]).toEqual(['UPSTREAM_OUTCOME_UNKNOWN', 1, 1]);
    } finally {
      await stop();
    }
  });

  it('a job whose lease lapses while its worker is still sending it (the process stalled) is not taken for dead', async () => {
    let calls = 0;
    let answer = () => {};
    const answered = new Promise<void>((resolve) => (answer = resolve));
    const { stop } = await startWorker(t, {
      worker: { leaseMs: 60_000 }, // its heartbeat is 20 s away: the lease lapses only when the test says
      provider: {
        name: 'slow',
        submit: async () => {
          calls++;
          await answered;
          return { kind: 'failed', code: 'UPSTREAM_ERROR', message: 'the upstream said no' };
        },
        poll: async () => { throw new Error('unused'); },
      },
    });
    try {
      const res = await t.gql(createMutation('createFaceswapV4Job', 'CreateFaceswapV4JobInput'), { input: MODEL_CASES[0].input });
      const id = Buffer.from(res.data.result.id, 'base64').toString().split(':')[1]!;
      await until(() => calls === 1);
      // What a stall past the lease leaves behind: the lease has lapsed while the send runs here.
      await t.app.db.pool.query(`UPDATE jobs SET locked_until = now() - interval '1 second' WHERE id = $1`, [id]);
      // The worker's own idle poll claims the job again (the lease is renewed)...
      await until(async () => (await sqlOf(id)).locked_until > new Date());
      // ...and leaves it to the send in flight, which ends it; not failed as a send its worker never finished.
      answer();
      expect((await waitForStatus(id, 'FAILED')).error_code).toBe('UPSTREAM_ERROR');
      expect([(await sqlOf(id)).error_message, calls]).toEqual([expect.stringContaining('the upstream said no'), 1]);
      expect(await eventsOf(id)).toEqual(['QUEUED', 'SUBMITTED', 'FAILED']);
    } finally {
      await stop();
    }
  });

  it('leave to send at once: a free slot of this process, never a shared rate-limit token', async () => {
    const inner: UpstreamProvider = { name: 'x', submit: async () => ({ kind: 'retry', reason: 'unused' }), poll: async () => ({ kind: 'retry', reason: 'unused' }) };
    const job = { id: 'j', provider: 'x', model: 'faceswap-v4', params: {}, upstreamRequestId: null, upstreamPollUrl: null };
    const slots = withUpstreamLimits(inner, { pool: t.app.db.pool, maxConcurrency: 1 });
    const first = slots.tryAdmit!(job);
    expect(first?.kind).toBe('admitted');
    expect(slots.tryAdmit!({ ...job, id: 'k' })).toBeNull();
    first!.release();
    expect(slots.tryAdmit!({ ...job, id: 'k' })?.kind).toBe('admitted');
    const rated = withUpstreamLimits(inner, { pool: t.app.db.pool, maxConcurrency: 4, ratePerWindow: 100 });
    expect(rated.tryAdmit!(job)).toBeNull();
  });
});

/**
 * Idle poll of the workers whose claims aside are counted: long beside a notice's delivery even on
 * a loaded machine, and short beside the patience of the waits for a leader (one try per idle poll).
 */
const ASIDE_IDLE_POLL_MS = 5_000;

const until = (test: () => boolean | Promise<boolean>) => waitUntil(test, () => 'the condition never held', { everyMs: 10 });

async function waitForStatus(id: string, status: string): Promise<any> {
  let r: { status: string } | undefined;
  return waitUntil(
    async () => {
      [r] = (await t.app.db.pool.query(`SELECT status, error_code FROM jobs WHERE id = $1`, [id])).rows;
      return r?.status === status && r;
    },
    () => `job ${id} still ${r?.status}, not ${status}`,
  );
}

describe('moves that arrive together share one statement', () => {
  it('each move of a batch is recorded as it would be alone; a move whose lease is lost fails alone', async () => {
    const pool = new pg.Pool({ connectionString: t.databaseUrl, max: 4 });
    try {
      const ids = await insertQueuedJobs(pool, 12);
      const claimed = await claimJobs(pool, 'batcher', 12, 60_000);
      expect(claimed.map((j) => j.id).sort()).toEqual([...ids].sort());
      const held = (id: string, workerId = 'batcher') => ({ jobId: id, workerId, was: 'QUEUED' as const });
      // The last job is asked for by a worker that does not hold it: its move is refused, the others go on.
      const submitted = await Promise.all(ids.map((id, i) => markSubmittedSending(pool, held(id, i === ids.length - 1 ? 'someone-else' : 'batcher'))));
      expect(submitted.slice(0, -1).every((n) => n?.status === 'SUBMITTED')).toBe(true);
      expect(submitted.at(-1)).toBeNull();
      const done = await Promise.all(ids.slice(0, -1).map((id, i) => complete(pool, { ...held(id), was: 'SUBMITTED' }, {
        result: { n: i }, output_key: `${'a'.repeat(64)}.png`, output_sha256: 'a'.repeat(64), output_bytes: 100 + i,
        output_mime_type: 'image/png', output_width: 8, output_height: 8,
      }, { n: i })));
      expect(done.map((n) => n?.jobId)).toEqual(ids.slice(0, -1));
      // Batched: fewer statements than moves.
      const stats = moveBatchStats(pool);
      expect(stats.items).toBe(23);
      expect(stats.largest).toBeGreaterThan(1);
      const { rows } = await pool.query(
        `SELECT j.id, j.status, j.upstream_status, j.locked_by, j.output_bytes, j.result, j.charged_micros::text AS charged,
                (SELECT array_agg(e.status::text ORDER BY e.id) FROM job_events e WHERE e.job_id = j.id) AS events,
                (SELECT e.detail FROM job_events e WHERE e.job_id = j.id AND e.status = 'COMPLETED') AS detail,
                (SELECT count(*)::int FROM ledger_entries l WHERE l.job_id = j.id) AS charges
         FROM jobs j WHERE j.id = ANY($1::uuid[])`, [ids]);
      const byId = new Map(rows.map((r) => [r.id, r]));
      ids.slice(0, -1).forEach((id, i) => {
        expect(byId.get(id)).toMatchObject({
          status: 'COMPLETED', upstream_status: 'COMPLETED', locked_by: null, output_bytes: 100 + i, result: { n: i },
          events: ['SUBMITTED', 'COMPLETED'], detail: { n: i }, charges: 1,
        });
      });
      expect(byId.get(ids.at(-1)!)).toMatchObject({ status: 'QUEUED', locked_by: 'batcher', events: null, charges: 0 });
    } finally {
      await pool.end();
    }
  });
});
