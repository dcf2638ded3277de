// rerunJob: the same stored parameters and seed, only the overrides changed, linked to the original.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, waitForFinal, type TestApp } from './support/app.js';
import { createMutation, MODEL_CASES } from './support/fixtures.js';

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp();
});
afterAll(async () => {
  await t?.close();
});

const RERUN = `mutation($id: ID!, $overrides: RerunOverrides, $key: String) {
  rerunJob(id: $id, overrides: $overrides, idempotencyKey: $key) {
    __typename
    ... on SwapJob { id seed parameters rerunOf { id } }
    ... on InvalidInputError { field rule violations { field rule } }
    ... on NotFoundError { id }
  } }`;
const LINEAGE = `query($id: ID!) { job(id: $id) { id reproducibility output { sha256 upstreamSha256 } rerunOf { id } reruns { id } } }`;

async function jobCount(): Promise<number> {
  const { rows: [r] } = await t.app.db.pool.query(`SELECT count(*)::int AS n FROM jobs`);
  return r.n;
}

async function createFinished(c: (typeof MODEL_CASES)[number], extra: Record<string, unknown> = {}) {
  const job = (await t.gql(createMutation(c.mutation, `${c.mutation[0]!.toUpperCase()}${c.mutation.slice(1)}Input`), { input: { ...c.input, ...extra } })).data.result;
  expect((await waitForFinal(t, job.id)).status).toBe('COMPLETED');
  return job;
}

describe('rerunJob', () => {
  it('without overrides reproduces the output sha256 and the seed, and the lineage is queryable', async () => {
    const original = await createFinished(MODEL_CASES[0]);
    const rerun = (await t.gql(RERUN, { id: original.id })).data.rerunJob;
    expect(rerun.__typename).toBe('FaceswapV4Job');
    expect(rerun.seed).toBe(original.seed);
    expect(rerun.parameters).toEqual(original.parameters);
    expect(rerun.rerunOf).toEqual({ id: original.id });
    expect((await t.gql(LINEAGE, { id: rerun.id })).data.job.reproducibility).toBe('UNKNOWN'); // still running
    await waitForFinal(t, rerun.id);
    const after = (await t.gql(LINEAGE, { id: rerun.id })).data.job;
    expect(after.reproducibility).toBe('REPRODUCED');
    const orig = (await t.gql(LINEAGE, { id: original.id })).data.job;
    // The upstream's bytes are the same; the served ones differ, since each label names its own job.
    expect(after.output.upstreamSha256).toBe(orig.output.upstreamSha256);
    expect(after.output.sha256).not.toBe(orig.output.sha256);
    expect(orig.reruns).toEqual([{ id: rerun.id }]);
    expect(orig.reproducibility).toBeNull(); // not a rerun

    const filtered = await t.gql(`query($id: ID!) { jobs(filter: { rerunOf: $id }) { edges { node { id } } } }`, { id: original.id });
    expect(filtered.data.jobs.edges).toEqual([{ node: { id: rerun.id } }]);
  });

  it('with a different seed does not reproduce; only the override changes', async () => {
    const original = await createFinished(MODEL_CASES[3], { seed: 777, steps: 20 });
    const rerun = (await t.gql(RERUN, { id: original.id, overrides: { faceswapComic: { seed: 778 } } })).data.rerunJob;
    expect(rerun.seed).toBe(778);
    expect({ ...rerun.parameters, seed: 777 }).toEqual(original.parameters);
    await waitForFinal(t, rerun.id);
    const after = (await t.gql(LINEAGE, { id: rerun.id })).data.job;
    // Overrides make it no exact rerun: reproducibility does not apply.
    expect(after.reproducibility).toBeNull();
    const orig = (await t.gql(LINEAGE, { id: original.id })).data.job;
    expect(after.output.upstreamSha256).not.toBe(orig.output.upstreamSha256);
  });

  it('an exact rerun whose output differs reports false', async () => {
    const original = await createFinished(MODEL_CASES[0], { seed: 4242 });
    const rerun = (await t.gql(RERUN, { id: original.id })).data.rerunJob;
    await waitForFinal(t, rerun.id);
    // Stand in for a nondeterministic upstream: the recorded outputs differ.
    await t.app.db.pool.query(`UPDATE jobs SET output_sha256 = repeat('0', 64) WHERE id = $1`, [Buffer.from(rerun.id, 'base64').toString().split(':')[1]]);
    expect((await t.gql(LINEAGE, { id: rerun.id })).data.job.reproducibility).toBe('NOT_REPRODUCED');
  });

  it('typed overrides per model; enums map to wire values', async () => {
    const original = await createFinished(MODEL_CASES[2]);
    const rerun = (await t.gql(RERUN, { id: original.id, overrides: { faceswapV2: { faceRestore: 'GFPGAN_V1_3', inputFacesIndex: '1, 2' } } })).data.rerunJob;
    expect(rerun.parameters).toMatchObject({ face_restore: 'GFPGANv1.3.pth', input_faces_index: '1,2' });
  });

  describe('errors create nothing', () => {
    it.each([
      ['out-of-range override', { faceswapV4: { imageQuality: 5 } }, 'overrides.faceswapV4.imageQuality', 'range'],
      ['malformed image override', { faceswapV4: { sourceImage: 'ftp://example.com/x.png' } }, 'overrides.faceswapV4.sourceImage', 'image-uri'],
      ['image override with user:pass@', { faceswapV4: { sourceImage: 'https://u:p@example.com/x.png' } }, 'overrides.faceswapV4.sourceImage', 'no-credentials'],
      ['overrides of another model', { faceswapComic: { steps: 3 } }, 'overrides.faceswapComic', 'model'],
    ])('%s', async (_name, overrides, field, rule) => {
      const original = await createFinished(MODEL_CASES[0]);
      const before = await jobCount();
      const res = await t.gql(RERUN, { id: original.id, overrides });
      expect(res.data.rerunJob).toMatchObject({ __typename: 'InvalidInputError', field, rule });
      expect(await jobCount()).toBe(before);
    });

    it('an unknown id, a malformed id, another key\'s job', async () => {
      const original = await createFinished(MODEL_CASES[0]);
      const before = await jobCount();
      const unknown = Buffer.from('FaceswapV4Job:00000000-0000-4000-8000-000000000000').toString('base64');
      expect((await t.gql(RERUN, { id: unknown })).data.rerunJob).toEqual({ __typename: 'NotFoundError', id: unknown });
      expect((await t.gql(RERUN, { id: 'nope' })).data.rerunJob).toMatchObject({ __typename: 'InvalidInputError', field: 'id', rule: 'global-id' });
      const other = await t.newKey();
      expect((await t.gql(RERUN, { id: original.id }, other)).data.rerunJob).toEqual({ __typename: 'NotFoundError', id: original.id });
      expect(await jobCount()).toBe(before);
    });

    it('an unknown enum value in overrides is refused by the schema', async () => {
      const original = await createFinished(MODEL_CASES[0]);
      const before = await jobCount();
      const res = await t.gql(RERUN, { id: original.id, overrides: { faceswapV4: { swapType: 'BODY' } } });
      expect(res.status).toBe(400);
      expect(res.errors?.[0]?.message).toContain('FaceswapV4SwapType');
      expect(await jobCount()).toBe(before);
    });
  });

  it('is idempotent with a key', async () => {
    const original = await createFinished(MODEL_CASES[0]);
    const [a, b] = await Promise.all([1, 2].map(() => t.gql(RERUN, { id: original.id, key: 'rerun-1' })));
    expect(a!.data.rerunJob.id).toBe(b!.data.rerunJob.id);
    const conflict = await t.gql(`mutation($id: ID!) { rerunJob(id: $id, idempotencyKey: "rerun-1", overrides: { faceswapV4: { seed: 1 } }) { __typename } }`, { id: original.id });
    expect(conflict.data.rerunJob.__typename).toBe('IdempotencyConflictError');
  });
});
