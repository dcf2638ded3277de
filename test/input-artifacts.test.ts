// Inline image inputs (issue 13): stored once in the artifact store, the job
// row keeping a reference; reads return references, not bytes; the owner alone
// downloads them; the upstream gets the original bytes, and a rerun the same
// ones; rows written before the change are moved at start. Real PostgreSQL,
// the real API over HTTP, the emulator as the upstream; each case against
// every artifact store (a local folder, PostgreSQL, S3 through s3rver).
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import pg from 'pg';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrationsDir } from '../src/db/migrations.js';
import { createApiKey } from '../src/services/api-keys.js';
import { IMAGE_WIRE_NAMES } from '../src/services/input-migration.js';
import { startTestApp, waitForFinal, type TestApp } from './support/app.js';
import { startS3Server, STORE_KINDS, storeEnv, type S3Server } from './support/artifact-stores.js';
import { createTestDatabase } from './support/db.js';
import { createMutation, sha256, SOURCE_URL } from './support/fixtures.js';
import { jobUuid, startWorker, type InProcessWorker } from './support/processes.js';

const MiB = 1024 * 1024;
const CREATE = createMutation('createFaceswapV4Job', 'CreateFaceswapV4JobInput');
const RERUN = `mutation($id: ID!) { rerunJob(id: $id) { __typename ... on SwapJob { id } } }`;
const IMAGE = 'source url sha256 contentType bytes width height';
const READ = `query($id: ID!) { job(id: $id) { id parameters reproducibility
  ... on FaceswapV4Job { sourceImage { ${IMAGE} } targetImage { ${IMAGE} } } } }`;

/** A PNG of random noise of about `bytes` bytes (noise does not compress). */
async function noisePng(bytes: number): Promise<Buffer> {
  const side = Math.floor(Math.sqrt(bytes / 3));
  return sharp(randomBytes(side * side * 3), { raw: { width: side, height: side, channels: 3 } }).png({ compressionLevel: 0 }).toBuffer();
}

/** The emulator's valid submissions since its stats were last reset, oldest first. */
function submissions(t: TestApp) {
  return t.emulator.stats().calls.filter((c) => c.kind === 'submit' && c.inlineImages);
}

/** Keys of the app's artifact store that start with `sha256`. */
async function artifactKeys(t: TestApp, sha: string): Promise<string[]> {
  const keys: string[] = [];
  for await (const key of t.app.artifacts.keys()) if (key.startsWith(sha)) keys.push(key);
  return keys;
}

async function paramsOf(t: TestApp, globalId: string): Promise<{ params: any; size: number }> {
  const { rows: [row] } = await t.app.db.pool.query(
    `SELECT params, octet_length(params::text) AS size FROM jobs WHERE id = $1`, [jobUuid(globalId)]);
  return row;
}

describe.each(STORE_KINDS)('inline image inputs (%s artifact store)', (kind) => {
  let t: TestApp;
  let s3: S3Server | undefined;
  let worker: InProcessWorker;
  let source: Buffer;
  let target: Buffer;
  let first: string;
  let second: string;

  beforeAll(async () => {
    if (kind === 's3') s3 = await startS3Server();
    t = await startTestApp({ worker: false, env: await storeEnv(kind, s3) });
    worker = await startWorker(t);
    [source, target] = await Promise.all([noisePng(3 * MiB), noisePng(MiB)]);
  }, 30_000);
  afterAll(async () => {
    await worker?.stop();
    await t?.close();
    await s3?.close();
  });

  it('are stored once, by sha256, and the job rows keep references, not bytes', async () => {
    t.emulator.resetStats();
    const a = await t.gql(CREATE, { input: { sourceImage: `data:image/png;base64,${source.toString('base64')}`, targetImage: target.toString('base64'), seed: 1 } });
    const b = await t.gql(CREATE, { input: { sourceImage: source.toString('base64'), targetImage: SOURCE_URL, seed: 2 } });
    first = a.data.result.id;
    second = b.data.result.id;
    expect(await waitForFinal(t, first)).toMatchObject({ status: 'COMPLETED' });
    expect((await waitForFinal(t, second)).status).toBe('COMPLETED');

    const [rowA, rowB] = [await paramsOf(t, first), await paramsOf(t, second)];
    // References: a few hundred bytes per job, where the images were 5 MiB of base64.
    expect(rowA.size).toBeLessThan(1000);
    expect(rowB.size).toBeLessThan(1000);
    expect(rowA.params.source_image.artifact).toMatchObject({ sha256: sha256(source), contentType: 'image/png', bytes: source.length });
    expect(rowA.params.target_image.artifact).toMatchObject({ sha256: sha256(target), bytes: target.length });
    expect(rowB.params.source_image).toEqual(rowA.params.source_image);
    expect(rowB.params.target_image).toBe(SOURCE_URL);
    // One artifact for the image both jobs were sent, holding exactly its bytes.
    const keys = await artifactKeys(t, sha256(source));
    expect(keys).toEqual([rowA.params.source_image.artifact.key]);
    const stored = await t.app.artifacts.read(keys[0]!);
    expect(stored!.equals(source)).toBe(true);
  });

  it('the upstream receives the original bytes', () => {
    const sent = submissions(t);
    expect(sent).toHaveLength(2);
    expect(sent.map((c) => c.inlineImages).sort((x, y) => Object.keys(y!).length - Object.keys(x!).length)).toEqual([
      { source_image: sha256(source), target_image: sha256(target) },
      { source_image: sha256(source) },
    ]);
  });

  it('a read returns references and links, not bytes', async () => {
    const res = await fetch(`${t.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${t.key}` },
      body: JSON.stringify({ query: READ, variables: { id: first } }),
    });
    const text = await res.text();
    // The images are 4 MiB; the answer is a couple of kilobytes.
    expect(Buffer.byteLength(text)).toBeLessThan(4000);
    const job = JSON.parse(text).data.job;
    expect(job.sourceImage).toEqual({
      source: 'INLINE', url: `${t.url}/inputs/${encodeURIComponent(first)}/sourceImage`,
      sha256: sha256(source), contentType: 'image/png', bytes: source.length,
      width: (await sharp(source).metadata()).width, height: (await sharp(source).metadata()).height,
    });
    expect(job.targetImage).toMatchObject({ source: 'INLINE', sha256: sha256(target), bytes: target.length });
    expect(job.parameters.source_image).toEqual({ artifact: expect.objectContaining({ sha256: sha256(source) }) });
    const other = (await t.gql(READ, { id: second })).data.job;
    expect(other.targetImage).toEqual({ source: 'URL', url: SOURCE_URL, sha256: null, contentType: null, bytes: null, width: null, height: null });
  });

  it('the download link serves the bytes to the owning key only', async () => {
    const url = `${t.url}/inputs/${encodeURIComponent(first)}/sourceImage`;
    const own = await fetch(url, { headers: { authorization: `Bearer ${t.key}` } });
    expect(own.status).toBe(200);
    expect(own.headers.get('content-type')).toBe('image/png');
    expect(own.headers.get('etag')).toBe(`"${sha256(source)}"`);
    expect(sha256(Buffer.from(await own.arrayBuffer()))).toBe(sha256(source));

    const other = await t.newKey('someone-else');
    const theirs = await fetch(url, { headers: { authorization: `Bearer ${other}` } });
    expect(theirs.status).toBe(404);
    expect(await theirs.text()).not.toContain(sha256(source));
    expect((await fetch(url)).status).toBe(401);
    // A URL input is not kept here; nor is a field the model does not have.
    const asKey = { headers: { authorization: `Bearer ${t.key}` } };
    expect((await fetch(`${t.url}/inputs/${encodeURIComponent(second)}/targetImage`, asKey)).status).toBe(404);
    expect((await fetch(`${t.url}/inputs/${encodeURIComponent(first)}/maskImage`, asKey)).status).toBe(404);
    expect((await fetch(`${t.url}/inputs/not-a-job/sourceImage`, asKey)).status).toBe(404);
  });

  it('a rerun sends the same bytes and reproduces the output', async () => {
    t.emulator.resetStats();
    const rerun = (await t.gql(RERUN, { id: first })).data.rerunJob;
    expect((await waitForFinal(t, rerun.id)).status).toBe('COMPLETED');
    expect(submissions(t).map((c) => c.inlineImages)).toEqual([{ source_image: sha256(source), target_image: sha256(target) }]);
    expect((await paramsOf(t, rerun.id)).params.source_image).toEqual((await paramsOf(t, first)).params.source_image);
    expect((await t.gql(READ, { id: rerun.id })).data.job.reproducibility).toBe('REPRODUCED');
  });

  it('a job whose stored image is gone fails INVALID_INPUT, and nothing is sent', async () => {
    await worker.stop();
    const lost = await noisePng(64 * 1024);
    const res = await t.gql(CREATE, { input: { sourceImage: lost.toString('base64'), targetImage: SOURCE_URL } });
    const keys = await artifactKeys(t, sha256(lost));
    expect(keys).toHaveLength(1);
    await t.app.artifacts.remove(keys[0]!);
    t.emulator.resetStats();
    worker = await startWorker(t);
    const job = await waitForFinal(t, res.data.result.id);
    expect(job).toMatchObject({ status: 'FAILED', failure: { code: 'INVALID_INPUT' } });
    expect(job.failure.message).toContain('source_image is no longer in the artifact store');
    expect(t.emulator.stats().attempts.total).toBe(0);
  });

  it('the database refuses a job row that holds an inline image', async () => {
    const row = await paramsOf(t, second);
    const insert = t.app.db.pool.query(
      `INSERT INTO jobs (id, api_key_id, model, provider, params)
       SELECT gen_random_uuid(), api_key_id, model, provider, $2::jsonb FROM jobs WHERE id = $1`,
      [jobUuid(second), JSON.stringify({ ...row.params, target_image: target.toString('base64') })]);
    await expect(insert).rejects.toMatchObject({ code: '23514', message: expect.stringContaining('must not hold an inline image') });
    // Nor can an update put one back.
    const update = t.app.db.pool.query(`UPDATE jobs SET params = $2::jsonb WHERE id = $1`,
      [jobUuid(second), JSON.stringify({ ...row.params, target_image: `data:image/png;base64,${target.toString('base64')}` })]);
    await expect(update).rejects.toMatchObject({ code: '23514' });
    expect((await paramsOf(t, second)).params).toEqual(row.params);
    // The database's list of image fields is the registry's: an inline value in any of them is refused.
    for (const wire of IMAGE_WIRE_NAMES) {
      const { rows: [r] } = await t.app.db.pool.query(`SELECT jobs_params_inline_images($1::jsonb) AS inline`, [JSON.stringify({ [wire]: 'iVBORw0KGgo=' })]);
      expect(r.inline, wire).toBe(true);
    }
    const { rows: [url] } = await t.app.db.pool.query(`SELECT jobs_params_inline_images($1::jsonb) AS inline`, [JSON.stringify({ source_image: SOURCE_URL, seed: 3 })]);
    expect(url.inline).toBe(false);
  });
});

describe.each(STORE_KINDS)('jobs written before inputs were kept as artifacts (%s artifact store)', (kind) => {
  let t: TestApp | undefined;
  let s3: S3Server | undefined;
  afterAll(async () => {
    await t?.close();
    await s3?.close();
  });

  it('are moved to the artifact store at start; they still run, read, download and rerun with their bytes', async () => {
    const databaseUrl = await createTestDatabase();
    const pool = new pg.Pool({ connectionString: databaseUrl, max: 1 });
    const [source, target] = await Promise.all([noisePng(2 * MiB), noisePng(256 * 1024)]);
    const owner = await createApiKey(pool, 'old');
    const params = (seed: number, src: string, tgt: string) => JSON.stringify({
      source_image: src, target_image: tgt, swap_type: 'face', model_type: 'speed', style_type: 'normal', seed,
      image_format: 'png', image_quality: 90, hardware: 'fast', base64: false,
    });
    // The database as the migration found it: rows with inline images in params, written before it.
    const migration = await readFile(join(migrationsDir, '20261124090000_input_artifacts', 'migration.sql'), 'utf8');
    await pool.query(`DROP TRIGGER jobs_no_inline_images ON jobs; DROP FUNCTION jobs_refuse_inline_images();
      DROP INDEX jobs_inline_inputs_idx; DROP FUNCTION jobs_params_inline_images(jsonb)`);
    await pool.query(
      `INSERT INTO jobs (id, api_key_id, model, provider, params, seed, status) VALUES
         (gen_random_uuid(), $1, 'FACESWAP_V4', 'segmind', $2::jsonb, 11, 'COMPLETED'),
         (gen_random_uuid(), $1, 'FACESWAP_V4', 'segmind', $3::jsonb, 12, 'QUEUED'),
         (gen_random_uuid(), $1, 'FACESWAP_V4', 'segmind', $4::jsonb, 13, 'COMPLETED')
       RETURNING id`,
      [owner.id,
        params(11, `data:image/png;base64,${source.toString('base64')}`, target.toString('base64')),
        params(12, source.toString('base64'), SOURCE_URL),
        params(13, SOURCE_URL, SOURCE_URL)]);
    await pool.query(migration);
    await pool.end();

    if (kind === 's3') s3 = await startS3Server();
    t = await startTestApp({ databaseUrl, env: await storeEnv(kind, s3) });
    const { rows: moved } = await t.app.db.pool.query(
      `SELECT id, params, jobs_params_inline_images(params) AS inline FROM jobs ORDER BY seed`);
    expect(moved.map((r) => r.inline)).toEqual([false, false, false]);
    expect(moved[0].params.source_image.artifact).toMatchObject({ sha256: sha256(source), contentType: 'image/png', bytes: source.length });
    expect(moved[0].params.target_image.artifact).toMatchObject({ sha256: sha256(target) });
    expect(moved[1].params.source_image).toEqual(moved[0].params.source_image);
    expect(moved[2].params).toMatchObject({ source_image: SOURCE_URL, target_image: SOURCE_URL });
    // What the next start reads to know there is nothing left to move: the partial index (usable
    // by the move's query: with 3 rows the planner would rather scan), now empty.
    const client = await t.app.db.pool.connect();
    try {
      await client.query('BEGIN; SET LOCAL enable_seqscan = off');
      const { rows: plan } = await client.query(`EXPLAIN SELECT id, params FROM jobs
        WHERE id > '00000000-0000-0000-0000-000000000000' AND jobs_params_inline_images(params) ORDER BY id LIMIT 1`);
      expect(plan.map((r) => r['QUERY PLAN']).join('\n')).toContain('jobs_inline_inputs_idx');
    } finally {
      await client.query('ROLLBACK');
      client.release();
    }
    expect(await artifactKeys(t, sha256(source))).toHaveLength(1);

    // The queued one runs, with its original bytes.
    const ids = moved.map((r) => Buffer.from(`FaceswapV4Job:${r.id}`).toString('base64'));
    expect((await waitForFinal(t, ids[1]!, { key: owner.secret })).status).toBe('COMPLETED');
    expect(submissions(t).map((c) => c.inlineImages)).toEqual([{ source_image: sha256(source) }]);

    // Read and downloaded like a new job's, by its owner.
    const read = (await t.gql(READ, { id: ids[0] }, owner.secret)).data.job;
    expect(read.sourceImage).toMatchObject({ source: 'INLINE', sha256: sha256(source), bytes: source.length });
    const download = await fetch(read.sourceImage.url, { headers: { authorization: `Bearer ${owner.secret}` } });
    expect(sha256(Buffer.from(await download.arrayBuffer()))).toBe(sha256(source));

    // A rerun of the completed one sends the bytes its original was sent.
    t.emulator.resetStats();
    const rerun = (await t.gql(RERUN, { id: ids[0] }, owner.secret)).data.rerunJob;
    expect((await waitForFinal(t, rerun.id, { key: owner.secret })).status).toBe('COMPLETED');
    expect(submissions(t).map((c) => c.inlineImages)).toEqual([{ source_image: sha256(source), target_image: sha256(target) }]);
  }, 60_000);
});
