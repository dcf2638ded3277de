// Download and thumbnail requests look up their key (signed links) and their job
// through coalesced statements (api-keys.ts#liveApiKeyById,
// job-file-lookups.ts): a gallery's hundreds of requests at once share a few
// statements, and that changes no answer: each gets its own key's job, or null
// for another key's, a wrong model, a malformed id or an unknown one.
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { modelSpec } from '../src/models/registry.js';
import { createApiKey, liveApiKeyById, revokeApiKey } from '../src/services/api-keys.js';
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
