// Creates that arrive together are written together (jobs.ts, CREATE_MANY_SQL),
// and that changes nothing a client can see: each create still gets its own
// job, QUEUED event and notification, budgets and idempotency keys still hold,
// a row that cannot be written fails alone, and event ids of a key still
// commit in id order, so an id stays an exact resume cursor.
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { modelSpec } from '../src/models/registry.js';
import { createApiKey } from '../src/services/api-keys.js';
import { createBatcher, createJob, type CreateJobArgs } from '../src/services/jobs.js';
import { noticeHead, transition } from '../src/services/job-transitions.js';
import { setBudget } from '../src/services/spend.js';
import { startTestApp, type TestApp } from './support/app.js';
import { waitUntil } from './support/wait.js';

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp({ worker: false });
});
afterAll(async () => {
  await t?.close();
});

const spec = modelSpec('FACESWAP_V4');
function args(apiKeyId: string, extra: Partial<CreateJobArgs> = {}): CreateJobArgs {
  return {
    apiKeyId, spec, provider: 'segmind',
    normalised: { params: { source_image: 'https://example.com/s.jpg', target_image: 'https://example.com/t.jpg', seed: 7 }, seed: 7 } as never,
    cost: { estimatedMicros: 10_000n, failureMicros: 0n },
    ...extra,
  };
}

async function newKeyId(name: string): Promise<string> {
  return (await createApiKey(t.app.db.pool, name)).id;
}

describe('batched creates', () => {
  it('60 concurrent creates over 3 keys share statements; each gets its own job, QUEUED event and notification', async () => {
    const keys = await Promise.all(['b1', 'b2', 'b3'].map(newKeyId));
    const listener = new pg.Client({ connectionString: t.databaseUrl });
    await listener.connect();
    const notified = new Set<string>();
    const heads: Array<[unknown, unknown]> = [];
    listener.on('notification', (m) => {
      const notice = JSON.parse(m.payload!);
      notified.add(notice.jobId);
      // The event hub reads a notice's key and id from the head of its text (noticeHead).
      heads.push([noticeHead(m.payload!), { eventId: notice.eventId, apiKeyId: notice.apiKeyId }]);
    });
    await listener.query('LISTEN swapyard_job_events');
    const before = { ...createBatcher(t.app.db).stats };

    const outcomes = await Promise.all(Array.from({ length: 60 }, (_, i) => createJob(t.app.db, args(keys[i % 3]!))));

    const stats = createBatcher(t.app.db).stats;
    expect(stats.items - before.items).toBe(60);
    expect(stats.batches - before.batches).toBeLessThan(60);
    expect(stats.largest).toBeGreaterThan(1);
    const ids = outcomes.map((o) => (o.kind === 'created' ? o.job.id : null));
    expect(ids.every(Boolean)).toBe(true);
    expect(new Set(ids).size).toBe(60);
    const { rows } = await t.app.db.pool.query(
      `SELECT j.id, j.api_key_id, count(e.id)::int AS events, min(e.status::text) AS status
       FROM jobs j JOIN job_events e ON e.job_id = j.id AND e.api_key_id = j.api_key_id
       WHERE j.id = ANY($1::uuid[]) GROUP BY j.id, j.api_key_id`,
      [ids],
    );
    expect(rows).toHaveLength(60);
    for (const r of rows) expect(r).toMatchObject({ events: 1, status: 'QUEUED' });
    expect(rows.filter((r) => r.api_key_id === keys[0]).length).toBe(20);
    const missing = () => [...ids].filter((id) => !notified.has(id!));
    await waitUntil(() => missing().length === 0, () => `not notified: ${JSON.stringify(missing())}`);
    expect(heads.length).toBeGreaterThanOrEqual(60);
    for (const [head, whole] of heads) expect(head).toEqual(whole);
    await listener.end();
  });

  it('a row that cannot be written fails alone; the rest of its batch is created', async () => {
    const key = await newKeyId('b-bad');
    const missingKey = randomUUID();
    const settled = await Promise.allSettled([
      ...Array.from({ length: 10 }, () => createJob(t.app.db, args(key))),
      createJob(t.app.db, args(missingKey)),
      ...Array.from({ length: 10 }, () => createJob(t.app.db, args(key))),
    ]);
    expect(settled.filter((s) => s.status === 'fulfilled' && s.value.kind === 'created')).toHaveLength(20);
    const failed = settled.filter((s) => s.status === 'rejected');
    expect(failed).toHaveLength(1);
    expect(String((failed[0] as PromiseRejectedResult).reason.message)).toMatch(/foreign key/);
    const { rows } = await t.app.db.pool.query(`SELECT count(*)::int AS n FROM jobs WHERE api_key_id = $1`, [key]);
    expect(rows[0].n).toBe(20);
  });

  it('concurrent retries of one idempotency key in a batch create one job; the others replay it', async () => {
    const key = await newKeyId('b-idem');
    const idempotency = { key: 'same-order', requestHash: 'h1' };
    const outcomes = await Promise.all(Array.from({ length: 12 }, () => createJob(t.app.db, args(key, { idempotency }))));
    expect(outcomes.filter((o) => o.kind === 'created')).toHaveLength(1);
    expect(outcomes.filter((o) => o.kind === 'replayed')).toHaveLength(11);
    expect(new Set(outcomes.map((o) => (o.kind === 'created' || o.kind === 'replayed' ? o.job.id : null))).size).toBe(1);
    const { rows } = await t.app.db.pool.query(`SELECT count(*)::int AS n FROM job_events WHERE api_key_id = $1`, [key]);
    expect(rows[0].n).toBe(1);
  });

  it('a key with a budget is checked job by job even when its creates arrive with others', async () => {
    const [limited, free] = await Promise.all([newKeyId('b-budget'), newKeyId('b-free')]);
    await setBudget(t.app.db.pool, limited, 'TOTAL', 50_000n); // five jobs at $0.01
    const outcomes = await Promise.all(Array.from({ length: 40 }, (_, i) => createJob(t.app.db, args(i % 2 ? limited : free))));
    const limitedOutcomes = outcomes.filter((_, i) => i % 2);
    expect(limitedOutcomes.filter((o) => o.kind === 'created')).toHaveLength(5);
    expect(limitedOutcomes.filter((o) => o.kind === 'over-budget')).toHaveLength(15);
    expect(outcomes.filter((o, i) => i % 2 === 0 && o.kind === 'created')).toHaveLength(20);
  });

  it('event ids of a key commit in id order while creates and transitions of that key race', async () => {
    const key = await newKeyId('b-order');
    const reader = new pg.Client({ connectionString: t.databaseUrl });
    await reader.connect();
    // Each poll sees the committed events; an id that first shows up after a
    // larger one was already seen committed late: a cursor would have skipped it.
    const seen = new Set<string>();
    let maxSeen = 0n;
    const late: string[] = [];
    let polls = 0;
    let writing = true;
    const poller = (async () => {
      while (writing) {
        const { rows } = await reader.query<{ id: string }>(`SELECT id::text FROM job_events WHERE api_key_id = $1 ORDER BY id`, [key]);
        let pollMax = maxSeen;
        for (const { id } of rows) {
          if (seen.has(id)) continue;
          seen.add(id);
          if (BigInt(id) < maxSeen) late.push(id);
          if (BigInt(id) > pollMax) pollMax = BigInt(id);
        }
        maxSeen = pollMax;
        polls += 1;
      }
    })();
    const writers = Array.from({ length: 8 }, async () => {
      for (let i = 0; i < 25; i++) {
        const o = await createJob(t.app.db, args(key));
        if (o.kind !== 'created') throw new Error(o.kind);
        // A transition of the same key, on its own connection, racing the others' creates.
        await transition(t.app.db.pool, { jobId: o.job.id, from: ['QUEUED'], to: 'CANCELED', patch: { finished_at: 'now' } });
      }
    });
    await Promise.all(writers);
    writing = false;
    await poller;
    await reader.end();
    const { rows } = await t.app.db.pool.query(`SELECT count(*)::int AS n FROM job_events WHERE api_key_id = $1`, [key]);
    expect(rows[0].n).toBe(400);
    expect(polls).toBeGreaterThan(10);
    expect(seen.size).toBeGreaterThan(0);
    expect(late).toEqual([]);
  });
});
