// Key lookups that arrive together share one statement (api-keys.ts), and that
// changes no answer: each secret gets its own key's owner, or null when it is
// unknown, revoked or expired; and a revocation still holds for every lookup
// that starts after its commit, however many lookups are in flight around it.
// The same holds for what downloads and thumbnails look up (a signed link's key
// by id, and the job: job-file-lookups.ts): a gallery asks for 300 at once.
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { modelSpec } from '../src/models/registry.js';
import { authenticateApiKey, createApiKey, liveApiKeyById, revokeApiKey } from '../src/services/api-keys.js';
import { findJobFiles } from '../src/services/job-file-lookups.js';
import { createJob } from '../src/services/jobs.js';
import { startTestApp, type TestApp } from './support/app.js';

let t: TestApp;
let pool: pg.Pool;
let statements = 0;

beforeAll(async () => {
  t = await startTestApp({ worker: false });
  // A pool of its own, counting what it sends: the real database answers.
  pool = new pg.Pool({ connectionString: t.databaseUrl, max: 4 });
  const query = pool.query.bind(pool) as (...args: unknown[]) => unknown;
  (pool as unknown as { query: unknown }).query = (...args: unknown[]) => {
    statements += 1;
    return query(...args);
  };
});
afterAll(async () => {
  await pool?.end();
  await t?.close();
});

describe('API key lookups', () => {
  it('answer each of 120 concurrent lookups over live, revoked, expired and unknown keys, in fewer statements than lookups', async () => {
    const live = await createApiKey(t.app.db.pool, 'live', { admin: true });
    const other = await createApiKey(t.app.db.pool, 'other');
    const revoked = await createApiKey(t.app.db.pool, 'revoked');
    await revokeApiKey(t.app.db.pool, revoked.id);
    const expired = await createApiKey(t.app.db.pool, 'expired', { expiresAt: new Date(Date.now() - 1000) });
    const cases: Array<[string, string | null]> = [
      [live.secret, live.id], [other.secret, other.id], [revoked.secret, null], [expired.secret, null],
      ['sy_unknownunknownunknownunknown', null], ['not-a-key', null],
    ];
    const before = statements;
    const asked = Array.from({ length: 120 }, (_, i) => cases[i % cases.length]!);
    const answers = await Promise.all(asked.map(([secret]) => authenticateApiKey(pool, secret)));
    answers.forEach((answer, i) => expect(answer?.id ?? null).toBe(asked[i]![1]));
    expect(answers[0]).toMatchObject({ name: 'live', isAdmin: true, expiresAt: null });
    expect(answers[1]).toMatchObject({ name: 'other', isAdmin: false });
    expect(statements - before).toBeGreaterThan(0);
    expect(statements - before).toBeLessThan(100);
  });

  it('a lookup that starts after a revocation committed is refused, with lookups in flight all along', async () => {
    const key = await createApiKey(t.app.db.pool, 'revoked-mid-stream');
    let stop = false;
    const stream = (async () => {
      let seen = 0;
      while (!stop) seen += (await Promise.all(Array.from({ length: 20 }, () => authenticateApiKey(pool, key.secret)))).length;
      return seen;
    })();
    expect(await authenticateApiKey(pool, key.secret)).not.toBeNull();
    await revokeApiKey(t.app.db.pool, key.id);
    const after = await Promise.all(Array.from({ length: 50 }, () => authenticateApiKey(pool, key.secret)));
    stop = true;
    expect(await stream).toBeGreaterThan(0);
    expect(after.every((a) => a === null)).toBe(true);
  });

  it('a database that cannot be reached fails every lookup waiting on it, leaving none hanging', async () => {
    const key = await createApiKey(t.app.db.pool, 'outage');
    const broken = new pg.Pool({ connectionString: t.databaseUrl.replace(/:\d+\//, ':1/'), max: 2, connectionTimeoutMillis: 2000 });
    try {
      for (let round = 0; round < 2; round++) {
        const outcomes = await Promise.allSettled(Array.from({ length: 10 }, () => authenticateApiKey(broken, key.secret)));
        expect(outcomes.every((o) => o.status === 'rejected')).toBe(true);
      }
    } finally {
      await broken.end();
    }
    expect((await authenticateApiKey(pool, key.secret))?.id).toBe(key.id);
  });
});

async function jobOf(apiKeyId: string, model = 'FACESWAP_V4'): Promise<string> {
  const spec = modelSpec(model);
  const params = Object.fromEntries(spec.params.filter((p) => p.kind === 'image').map((p) => [p.wire, `https://example.com/${p.wire}.jpg`]));
  const made = await createJob(t.app.db, {
    apiKeyId, spec, normalised: { params: params as never, seed: 7 }, provider: 'segmind',
    cost: { estimatedMicros: 0n, failureMicros: 0n },
  });
  if (made.kind !== 'created') throw new Error(`job not created: ${made.kind}`);
  return made.job.id;
}

describe('lookups behind downloads and thumbnails', () => {
  it('signed links\' keys: 120 concurrent lookups over live, revoked, expired, unknown and malformed ids, in fewer statements', async () => {
    const live = await createApiKey(t.app.db.pool, 'live', { admin: true });
    const revoked = await createApiKey(t.app.db.pool, 'revoked');
    await revokeApiKey(t.app.db.pool, revoked.id);
    const expired = await createApiKey(t.app.db.pool, 'expired', { expiresAt: new Date(Date.now() - 1000) });
    const cases: Array<[string, string | null]> = [
      [live.id, live.id], [revoked.id, null], [expired.id, null], ['00000000-0000-4000-8000-000000000000', null], ['not-a-uuid', null],
    ];
    const before = statements;
    const asked = Array.from({ length: 120 }, (_, i) => cases[i % cases.length]!);
    const answers = await Promise.all(asked.map(([id]) => liveApiKeyById(pool, id)));
    answers.forEach((answer, i) => expect(answer?.id ?? null).toBe(asked[i]![1]));
    expect(answers[0]).toMatchObject({ name: 'live', isAdmin: true, expiresAt: null });
    expect(statements - before).toBeGreaterThan(0);
    expect(statements - before).toBeLessThan(60);
  });

  it('jobs: each of 150 concurrent lookups gets its own key\'s job and nothing of another key\'s, in fewer statements', async () => {
    const a = await createApiKey(t.app.db.pool, 'a');
    const b = await createApiKey(t.app.db.pool, 'b');
    const aJob = await jobOf(a.id);
    const bJob = await jobOf(b.id, 'FACESWAP_COMIC');
    const cases: Array<[string, string, string | undefined, string | null]> = [
      [a.id, aJob, undefined, aJob],
      [a.id, aJob, 'FACESWAP_V4', aJob],
      [a.id, aJob, 'FACESWAP_COMIC', null], // the id names another model
      [a.id, bJob, undefined, null], // another key's job is no job
      [b.id, bJob, 'FACESWAP_COMIC', bJob],
      [b.id, 'not-a-uuid', undefined, null],
      [b.id, '00000000-0000-4000-8000-000000000000', undefined, null],
    ];
    const before = statements;
    const asked = Array.from({ length: 150 }, (_, i) => cases[i % cases.length]!);
    const answers = await Promise.all(asked.map(([key, id, model]) => findJobFiles(pool, key, id, model)));
    answers.forEach((answer, i) => expect(answer?.id ?? null).toBe(asked[i]![3]));
    expect(answers[0]).toMatchObject({
      model: 'FACESWAP_V4', provider: 'segmind', imagesErasedAt: null, deletedAt: null, outputKey: null, servedOutputKey: null,
    });
    expect(answers[0]!.params).toMatchObject({ source_image: 'https://example.com/source_image.jpg' });
    expect(statements - before).toBeGreaterThan(0);
    expect(statements - before).toBeLessThan(75);
  });
});
