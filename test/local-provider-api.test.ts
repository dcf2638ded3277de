// The local engine through the API: the default provider without a Segmind
// key, recorded on the job, free, refusing what it cannot honour at
// submission, failing with typed reasons, reproducible on rerun.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, waitForFinal, type TestApp } from './support/app.js';
import { faceless, sample } from './support/engine-samples.js';
import { jobUuid } from './support/processes.js';

let t: TestApp;
beforeAll(async () => {
  // No Segmind key: the local engine is the default (FAST_ENV pins segmind for the other tests).
  t = await startTestApp({ env: { SWAPYARD_PROVIDER: '', LOCAL_ENGINE_THREADS: '1' } });
});
afterAll(async () => {
  await t?.close();
});

const dataUri = (bytes: Buffer, mime = 'image/jpeg') => `data:${mime};base64,${bytes.toString('base64')}`;
const FIELDS = `__typename
  ... on SwapJob { id status provider parameters cost { estimated { usd } } }
  ... on UnsupportedOptionError { provider option message options { option value reason } }
  ... on InvalidInputError { field rule }`;
const create = (model: string, input: Record<string, unknown>) =>
  t.gql(`mutation($input: Create${model}JobInput!) { result: create${model}Job(input: $input) { ${FIELDS} } }`, { input });
const JOB = `query($id: ID!) { job(id: $id) { status provider failure { code message } output { sha256 upstreamSha256 mimeType width height }
  notApplied { option value note } reproducibility cost { charged { usd } } } }`;

async function jobCount(): Promise<number> {
  return (await t.app.db.pool.query(`SELECT count(*)::int AS n FROM jobs`)).rows[0].n;
}

describe('the local provider through the API', () => {
  it('is the default without a key: a real swap, recorded as local, free, reproducible on rerun', async () => {
    const source = sample(1);
    const target = sample(2);
    const created = (await create('FaceswapV2', { sourceImage: dataUri(source), targetImage: dataUri(target) })).data.result;
    expect(created).toMatchObject({ __typename: 'FaceswapV2Job', provider: 'LOCAL', cost: { estimated: { usd: '0.00' } } });
    expect(await waitForFinal(t, created.id, { timeoutMs: 240_000 })).toMatchObject({ status: 'COMPLETED', failure: null });
    const done = (await t.gql(JOB, { id: created.id })).data.job;
    expect(done.output.mimeType).toBe('image/jpeg');
    expect(done.cost.charged.usd).toBe('0.00');
    // faceswap-v2 always carries a face_restore model (it has no "off"); the engine has none, and says so.
    expect(done.notApplied).toEqual([expect.objectContaining({ option: 'face_restore', value: 'codeformer-v0.1.0.pth' })]);

    const rerun = (await t.gql(`mutation($id: ID!) { rerunJob(id: $id) { __typename ... on SwapJob { id provider } } }`, { id: created.id })).data.rerunJob;
    expect(rerun.provider).toBe('LOCAL');
    await waitForFinal(t, rerun.id, { timeoutMs: 240_000 });
    const again = (await t.gql(JOB, { id: rerun.id })).data.job;
    expect(again.output.upstreamSha256).toBe(done.output.upstreamSha256);
    expect(again.reproducibility).toBe('REPRODUCED');
  });

  it('refuses what it cannot honour at submission, naming the option and the provider; nothing is created', async () => {
    const before = await jobCount();
    const images = { sourceImage: dataUri(sample(1)), targetImage: dataUri(sample(2)) };
    const comic = (await create('FaceswapComic', images)).data.result;
    expect(comic).toMatchObject({ __typename: 'UnsupportedOptionError', provider: 'LOCAL', option: 'model' });
    expect(comic.message).toMatch(/local provider cannot honour model = FACESWAP_COMIC.*nothing was created/);
    const head = (await create('FaceswapV4', images)).data.result; // swapType defaults to HEAD
    expect(head).toMatchObject({ __typename: 'UnsupportedOptionError', option: 'swap_type', options: [{ option: 'swap_type', value: 'head' }] });
    const gender = (await create('FaceswapV3Multi', { ...images, detectGenderInput: 'FEMALE', faceRestore: 'GFPGAN_V1_4' })).data.result;
    expect(gender.options.map((o: any) => o.option).sort()).toEqual(['detect_gender_input', 'face_restore']);
    const body = (await create('BodySwap', {})).data.result;
    expect(body).toMatchObject({ __typename: 'UnsupportedOptionError', option: 'model' });
    expect(await jobCount()).toBe(before);
    // The same jobs run when the client picks the provider that can.
    const onSegmind = (await create('FaceswapComic', { ...images, provider: 'SEGMIND' })).data.result;
    expect(onSegmind).toMatchObject({ __typename: 'FaceswapComicJob', provider: 'SEGMIND' });
  });

  it('ends FAILED with typed reasons: no face, face index out of range, a private input URL', async () => {
    const noFace = (await create('FaceswapV3Multi', { sourceImage: dataUri(sample(1)), targetImage: dataUri(await faceless(), 'image/png') })).data.result;
    const outOfRange = (await create('FaceswapV3Multi', { sourceImage: dataUri(sample(1)), targetImage: dataUri(sample(2)), inputFacesIndex: '0,9' })).data.result;
    const ssrf = (await create('FaceswapV2', { sourceImage: 'http://127.0.0.1:9/face.jpg', targetImage: dataUri(sample(2)) })).data.result;
    const failure = async (job: { id: string }) => (await waitForFinal(t, job.id, { timeoutMs: 240_000 })).failure;
    expect(await failure(noFace)).toMatchObject({ code: 'NO_FACE_DETECTED' });
    expect(await failure(outOfRange)).toMatchObject({ code: 'FACE_INDEX_OUT_OF_RANGE' });
    const refused = await failure(ssrf);
    expect(refused.code).toBe('INVALID_INPUT');
    expect(refused.message).toMatch(/127\.0\.0\.1/);
    const rows = (await t.app.db.pool.query(`SELECT charged_micros::int AS c FROM jobs WHERE id = ANY($1::uuid[])`, [[noFace, outOfRange, ssrf].map((j) => jobUuid(j.id))])).rows;
    expect(rows.map((r) => r.c)).toEqual([0, 0, 0]);
  });
});
