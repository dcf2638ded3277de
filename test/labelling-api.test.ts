// Every output the API serves says it is synthetic: the XMP label (and, with a
// signing key configured, a verified C2PA manifest) read back from the real
// download route and from the base64 answer, for every model (through the
// emulator) and for the local engine, in each container it can answer in; the
// link a webhook leads to serves the same labelled bytes; an output's thumbnail
// is labelled too (an input's is not); the upstream's bytes stay as they came,
// and both hashes are on the job.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import sharp from 'sharp';
import { loadConfig } from '../src/config.js';
import { startTestApp, waitForFinal, type TestApp } from './support/app.js';
import { sample } from './support/engine-samples.js';
import { createMutation, inputTypeOf, MODEL_CASES, sha256, TINY_PNG_BASE64 } from './support/fixtures.js';
import { makeC2paTestCredentials, readC2pa, readXmp, type C2paTestCredentials } from './support/labels.js';
import { jobUuid, startWorker } from './support/processes.js';
import { waitUntil } from './support/wait.js';

const TERMS = 'http://cv.iptc.org/newscodes/digitalsourcetype/';
const OUTPUT = `query($id: ID!) { job(id: $id) { id model provider status
  output { url sha256 bytes upstreamSha256 upstreamBytes mimeType base64 syntheticMediaLabel { xmp c2pa digitalSourceType } }
  events { status detail } } }`;

// Every model, and each output container: v4 asks for WebP, v3 for PNG, the others keep their defaults
// (v2 and comic JPEG, v4's default PNG is in the thumbnail test), and comic once more in WebP: every model
// with a format parameter (v3, v4: imageFormat; comic: outputFormat) is seen answering WebP or PNG.
const CASES = [
  ...MODEL_CASES.map((c) => ({
    ...c,
    name: c.model as string,
    input: {
      ...c.input,
      ...(c.model === 'FACESWAP_V4' ? { imageFormat: 'WEBP' } : c.model === 'FACESWAP_V3_MULTI' ? { imageFormat: 'PNG' } : {}),
      // The body swap workflow has no base64 option: its output is a download only.
      ...(c.model === 'BODY_SWAP' ? {} : { base64: true }),
    } as Record<string, unknown>,
  })),
  { ...MODEL_CASES[3], name: 'FACESWAP_COMIC (WebP)', input: { ...MODEL_CASES[3].input, outputFormat: 'WEBP', base64: true } as Record<string, unknown> },
];

async function runJob(t: TestApp, mutation: string, input: Record<string, unknown>, timeoutMs?: number) {
  const created = (await t.gql(createMutation(mutation, inputTypeOf(mutation)), { input })).data.result;
  expect(created.id, JSON.stringify(created)).toBeTruthy();
  expect((await waitForFinal(t, created.id, timeoutMs ? { timeoutMs } : undefined)).status).toBe('COMPLETED');
  return (await t.gql(OUTPUT, { id: created.id })).data.job;
}

async function download(t: TestApp, url: string): Promise<{ status: number; bytes: Buffer; etag: string | null; type: string | null }> {
  const res = await fetch(url, { headers: { authorization: `Bearer ${t.key}` } });
  return { status: res.status, bytes: Buffer.from(await res.arrayBuffer()), etag: res.headers.get('etag'), type: res.headers.get('content-type') };
}

/** The upstream's bytes as stored (output_key), read from the artifact store the service wrote. */
async function upstreamBytes(t: TestApp, jobId: string): Promise<Buffer> {
  const { rows: [row] } = await t.app.db.pool.query(`SELECT output_key FROM jobs WHERE id = $1`, [jobUuid(jobId)]);
  const { LocalArtifactStore } = await import('../src/services/artifacts.js');
  const { join } = await import('node:path');
  return (await new LocalArtifactStore(join(t.config.dataDir, 'artifacts')).read(row.output_key))!;
}

/** A thumbnail through its real route (what the dashboard's gallery fetches). */
async function thumbnail(t: TestApp, jobId: string, field: string): Promise<{ status: number; bytes: Buffer; type: string | null }> {
  const res = await fetch(`${t.url}/thumbnails/${encodeURIComponent(jobId)}/${field}`, { headers: { authorization: `Bearer ${t.key}` } });
  return { status: res.status, bytes: Buffer.from(await res.arrayBuffer()), type: res.headers.get('content-type') };
}

/** A job whose target image was sent inline (so it has an input thumbnail), v2 in the emulator. */
const INLINE_CASE = MODEL_CASES[2];

const rawPixels = async (bytes: Buffer) => (await sharp(bytes).raw().toBuffer({ resolveWithObject: true })).data;

/** What every served output must show, whichever route served it. */
async function expectLabelled(t: TestApp, job: any, provider: 'SEGMIND' | 'LOCAL') {
  const term = provider === 'LOCAL' ? `${TERMS}compositeSynthetic` : `${TERMS}compositeWithTrainedAlgorithmicMedia`;
  const got = await download(t, job.output.url);
  expect(got.status).toBe(200);
  expect(got.type).toBe(job.output.mimeType);
  expect(sha256(got.bytes)).toBe(job.output.sha256);
  expect(got.bytes.length).toBe(job.output.bytes);
  expect(got.etag).toBe(`"${job.output.sha256}"`);
  // base64 answers carry the same labelled bytes.
  if (job.model !== 'BODY_SWAP') expect(Buffer.from(job.output.base64, 'base64').equals(got.bytes)).toBe(true);

  const xmp = await readXmp(got.bytes);
  expect(xmp).toMatchObject({ DigitalSourceType: term, JobId: job.id, Model: job.model, Provider: provider });
  expect(job.output.syntheticMediaLabel).toMatchObject({ xmp: true, digitalSourceType: term });

  // The upstream's bytes are kept as they came; the served ones differ only in metadata.
  const upstream = await upstreamBytes(t, job.id);
  expect(sha256(upstream)).toBe(job.output.upstreamSha256);
  expect(upstream.length).toBe(job.output.upstreamBytes);
  expect(job.output.upstreamSha256).not.toBe(job.output.sha256);
  expect((await rawPixels(got.bytes)).equals(await rawPixels(upstream))).toBe(true);
  // The COMPLETED event (and so its webhook delivery) names the served bytes, and the upstream's.
  const completed = job.events.find((e: any) => e.status === 'COMPLETED');
  expect(completed.detail).toMatchObject({ sha256: job.output.sha256, bytes: job.output.bytes, upstreamSha256: job.output.upstreamSha256 });
  return got.bytes;
}

describe('default configuration: the XMP label on every output', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(async () => {
    await t?.close();
  });

  it.each(CASES)('$name: labelled through the download route and the base64 answer', async (c) => {
    const job = await runJob(t, c.mutation, c.input);
    await expectLabelled(t, job, 'SEGMIND');
    expect(job.output.syntheticMediaLabel.c2pa).toBe(false);
  });

  it('each container is covered: WebP, PNG and JPEG outputs were labelled', async () => {
    const { rows } = await t.app.db.pool.query(`SELECT DISTINCT output_mime_type AS m FROM jobs WHERE served_output_label = 'xmp'`);
    expect(rows.map((r) => r.m).sort()).toEqual(['image/jpeg', 'image/png', 'image/webp']);
  });

  it("an output's thumbnail carries the output's XMP label; an input's thumbnail carries none", async () => {
    const job = await runJob(t, INLINE_CASE.mutation, INLINE_CASE.input);
    const out = await thumbnail(t, job.id, 'output');
    expect(out.status).toBe(200);
    expect(out.type).toBe('image/jpeg');
    expect(await readXmp(out.bytes)).toMatchObject({
      DigitalSourceType: `${TERMS}compositeWithTrainedAlgorithmicMedia`, JobId: job.id, Model: 'FACESWAP_V2', Provider: 'SEGMIND',
    });
    // The thumbnail of the output as served: the same pixels, shrunk (the tiny output is not enlarged).
    const served = (await download(t, job.output.url)).bytes;
    expect((await sharp(out.bytes).metadata()).width).toBe((await sharp(served).metadata()).width);
    const input = await thumbnail(t, job.id, 'targetImage');
    expect(input.status).toBe(200);
    expect(await readXmp(input.bytes)).toEqual({});
    expect((await sharp(input.bytes).metadata()).xmp).toBeUndefined();
  });

  it('a job completed before labelling existed is labelled at its first read, once', async () => {
    const c = CASES[1]!;
    const job = await runJob(t, c.mutation, c.input);
    const id = jobUuid(job.id);
    // As a row from before the migration: no served output.
    await t.app.db.pool.query(
      `UPDATE jobs SET served_output_key = NULL, served_output_sha256 = NULL, served_output_bytes = NULL, served_output_label = NULL WHERE id = $1`, [id]);
    const got = await download(t, job.output.url);
    expect((await readXmp(got.bytes)).JobId).toBe(job.id);
    const { rows: [row] } = await t.app.db.pool.query(`SELECT served_output_sha256 AS s, served_output_label AS l, served_output_key AS k FROM jobs WHERE id = $1`, [id]);
    expect(row).toEqual({ s: sha256(got.bytes), l: 'xmp', k: null });
    const again = (await t.gql(OUTPUT, { id: job.id })).data.job;
    expect(again.output.sha256).toBe(row.s);
  });

  it('an unlabelled job whose output file is gone: a 404 naming the missing file, a masked GraphQL error, nothing recorded', async () => {
    const c = CASES[3]!;
    const job = await runJob(t, c.mutation, c.input);
    const id = jobUuid(job.id);
    await t.app.db.pool.query(
      `UPDATE jobs SET served_output_key = NULL, served_output_sha256 = NULL, served_output_bytes = NULL, served_output_label = NULL,
              output_key = repeat('f', 64) || '.jpg' WHERE id = $1`, [id]);
    const res = await fetch(job.output.url, { headers: { authorization: `Bearer ${t.key}` } });
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({ error: 'The output file is missing from the artifact store.' });
    const read = await t.gql(`query($id: ID!) { job(id: $id) { status output { sha256 } } }`, { id: job.id });
    expect(read.errors?.[0]?.extensions?.code).toBe('INTERNAL_SERVER_ERROR');
    expect(JSON.stringify(read.errors)).not.toMatch(/artifact|ffff|\/tmp/);
    const thumb = await thumbnail(t, job.id, 'output');
    expect(thumb.status).toBe(404);
    expect(JSON.parse(thumb.bytes.toString())).toEqual({ error: 'No thumbnail: the output file is missing from the artifact store.' });
    const { rows: [row] } = await t.app.db.pool.query(`SELECT served_output_key, served_output_sha256 FROM jobs WHERE id = $1`, [id]);
    expect(row).toEqual({ served_output_key: null, served_output_sha256: null });
  });

  it('an XMP label is not stored: one file per output, the label made again on each read, byte for byte', async () => {
    const c = CASES[0]!;
    const job = await runJob(t, c.mutation, c.input);
    const { rows: [row] } = await t.app.db.pool.query(`SELECT served_output_key AS k, output_key AS o FROM jobs WHERE id = $1`, [jobUuid(job.id)]);
    expect(row.k).toBeNull();
    const { LocalArtifactStore, contentKey } = await import('../src/services/artifacts.js');
    const { join } = await import('node:path');
    const store = new LocalArtifactStore(join(t.config.dataDir, 'artifacts'));
    const [first, second] = [await download(t, job.output.url), await download(t, job.output.url)];
    expect(first.bytes.equals(second.bytes)).toBe(true);
    expect(sha256(first.bytes)).toBe(job.output.sha256);
    // Nothing stored under the served bytes' key: the store holds the upstream's file only.
    expect(await store.read(contentKey(first.bytes, job.output.mimeType).key)).toBeNull();
    expect(await store.read(row.o)).not.toBeNull();
  });

  it('a label that comes out otherwise than the job recorded is refused, not served under that ETag', async () => {
    const c = CASES[0]!;
    const job = await runJob(t, c.mutation, c.input);
    await t.app.db.pool.query(`UPDATE jobs SET served_output_sha256 = repeat('0', 64) WHERE id = $1`, [jobUuid(job.id)]);
    const res = await fetch(job.output.url, { headers: { authorization: `Bearer ${t.key}` } });
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({ error: 'The labelled output could not be made again as it was recorded.' });
    const read = await t.gql(`query($id: ID!) { job(id: $id) { output { sha256 base64 } } }`, { id: job.id });
    expect(read.errors).toBeUndefined();
    expect(read.data.job.output).toEqual({ sha256: '0'.repeat(64), base64: null });
  });

  it('an exact rerun still reproduces: reproducibility compares the upstream bytes', async () => {
    const c = CASES[0]!;
    const job = await runJob(t, c.mutation, { ...c.input, seed: 99 });
    const rerun = (await t.gql(`mutation($id: ID!) { rerunJob(id: $id) { ... on SwapJob { id } } }`, { id: job.id })).data.rerunJob;
    await waitForFinal(t, rerun.id);
    const again = (await t.gql(`query($id: ID!) { job(id: $id) { reproducibility output { sha256 upstreamSha256 } } }`, { id: rerun.id })).data.job;
    expect(again.reproducibility).toBe('REPRODUCED');
    expect(again.output.upstreamSha256).toBe(job.output.upstreamSha256);
    expect(again.output.sha256).not.toBe(job.output.sha256);
    // The same upstream bytes, yet each job's output thumbnail names its own job.
    expect((await readXmp((await thumbnail(t, job.id, 'output')).bytes)).JobId).toBe(job.id);
    expect((await readXmp((await thumbnail(t, rerun.id, 'output')).bytes)).JobId).toBe(rerun.id);
  });
});

describe('with a C2PA signing key: a signed manifest too', () => {
  let t: TestApp;
  let creds: C2paTestCredentials;
  beforeAll(async () => {
    creds = await makeC2paTestCredentials();
    t = await startTestApp({ env: {
      C2PA_SIGNING_KEY: creds.keyPem, C2PA_CERTIFICATE: creds.certPem, LOCAL_ENGINE_THREADS: '1',
      WEBHOOK_ALLOW_PRIVATE: 'true', WEBHOOK_IDLE_POLL_MS: '50',
    } });
  });
  afterAll(async () => {
    await t?.close();
  });

  it.each(CASES)('$name: XMP, and a manifest both readers verify', async (c) => {
    const job = await runJob(t, c.mutation, c.input);
    const bytes = await expectLabelled(t, job, 'SEGMIND');
    expect(job.output.syntheticMediaLabel.c2pa).toBe(true);
    const manifest = await readC2pa(bytes, creds.caPem);
    expect(manifest.problems).toEqual([]);
    expect(manifest.actions.map((a) => a.action)).toEqual(['c2pa.created', 'c2pa.edited']);
    expect(manifest.actions[1]!.digitalSourceType).toBe(`${TERMS}compositeWithTrainedAlgorithmicMedia`);
  });

  it('each container is covered: WebP, PNG and JPEG outputs were signed', async () => {
    const { rows } = await t.app.db.pool.query(`SELECT DISTINCT output_mime_type AS m FROM jobs WHERE served_output_label = 'xmp+c2pa'`);
    expect(rows.map((r) => r.m).sort()).toEqual(['image/jpeg', 'image/png', 'image/webp']);
  });

  it('a signed copy (it carries its signing time) is stored beside the output, and served as stored', async () => {
    const { rows } = await t.app.db.pool.query(`SELECT id, served_output_key AS k, served_output_sha256 AS s FROM jobs WHERE served_output_label = 'xmp+c2pa'`);
    expect(rows.length).toBeGreaterThan(0);
    const { LocalArtifactStore } = await import('../src/services/artifacts.js');
    const { join } = await import('node:path');
    const store = new LocalArtifactStore(join(t.config.dataDir, 'artifacts'));
    for (const row of rows) {
      expect(row.k).toMatch(/^[0-9a-f]{64}\./);
      expect(sha256((await store.read(row.k))!)).toBe(row.s);
    }
  });

  // Every model the local engine runs, and each container: v2 in its JPEG, v3 asked for PNG, v4 for WebP.
  it.each([
    { name: 'v2, JPEG', mutation: 'createFaceswapV2Job', type: 'FaceswapV2Job', extra: {}, mime: 'image/jpeg' },
    { name: 'v3 multi, PNG', mutation: 'createFaceswapV3MultiJob', type: 'FaceswapV3MultiJob', extra: { imageFormat: 'PNG' }, mime: 'image/png' },
    { name: 'v4, WebP', mutation: 'createFaceswapV4Job', type: 'FaceswapV4Job', extra: { imageFormat: 'WEBP', swapType: 'FACE' }, mime: 'image/webp' },
  ])('the local engine ($name): XMP says compositeSynthetic, the manifest names the inline inputs by hash', async (c) => {
    const input = {
      sourceImage: `data:image/jpeg;base64,${sample(1).toString('base64')}`, targetImage: `data:image/jpeg;base64,${sample(2).toString('base64')}`,
      provider: 'LOCAL', base64: true, ...c.extra,
    };
    const job = await runJob(t, c.mutation, input, 240_000);
    expect(job.provider).toBe('LOCAL');
    expect(job.output.mimeType).toBe(c.mime);
    const bytes = await expectLabelled(t, job, 'LOCAL');
    expect(job.output.syntheticMediaLabel.c2pa).toBe(true);
    const manifest = await readC2pa(bytes, creds.caPem);
    expect(manifest.problems).toEqual([]);
    expect(manifest.actions[1]).toEqual({ action: 'c2pa.edited', digitalSourceType: `${TERMS}compositeSynthetic` });
    const inputs = (await t.gql(`query($id: ID!) { job(id: $id) { ... on ${c.type} { sourceImage { sha256 } targetImage { sha256 } } } }`, { id: job.id })).data.job;
    expect(manifest.ingredients).toEqual([
      { title: 'sourceImage', instanceId: `sha256:${inputs.sourceImage.sha256}`, relationship: 'inputTo' },
      { title: 'targetImage', instanceId: `sha256:${inputs.targetImage.sha256}`, relationship: 'inputTo' },
    ]);
  }, 300_000);

  it("an output's thumbnail: a manifest that opens the served output (its parent, by hash) and resizes it; an input's: none", async () => {
    const job = await runJob(t, INLINE_CASE.mutation, INLINE_CASE.input);
    const out = await thumbnail(t, job.id, 'output');
    expect(out.status).toBe(200);
    expect((await readXmp(out.bytes)).JobId).toBe(job.id);
    const manifest = await readC2pa(out.bytes, creds.caPem);
    expect(manifest.problems).toEqual([]);
    expect(manifest.actions).toEqual([
      { action: 'c2pa.opened', digitalSourceType: `${TERMS}compositeWithTrainedAlgorithmicMedia` },
      { action: 'c2pa.resized' },
    ]);
    expect(manifest.ingredients).toEqual([{ title: 'output', instanceId: `sha256:${job.output.sha256}`, relationship: 'parentOf' }]);
    const input = await thumbnail(t, job.id, 'targetImage');
    expect(input.status).toBe(200);
    expect(input.bytes.includes(Buffer.from('C2PA'))).toBe(false);
    expect(await readXmp(input.bytes)).toEqual({});
  });

  it('the link a webhook leads to: the COMPLETED delivery names the job and the sha256 of the labelled, signed bytes its download serves', async () => {
    const received: string[] = [];
    const server = createServer((req, res) => {
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => { received.push(body); res.writeHead(204).end(); });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
      const hook = (await t.gql(`mutation($input: CreateWebhookEndpointInput!) { r: createWebhookEndpoint(input: $input) {
        ... on WebhookEndpointCreated { secret } } }`, { input: { url, statuses: ['COMPLETED'] } })).data.r;
      expect(hook.secret).toBeTruthy();
      const c = CASES[0]!; // v4 in WebP
      const job = await runJob(t, c.mutation, c.input);
      const ofJob = () => received.map((body) => JSON.parse(body)).find((p) => p.data?.id === job.id);
      await waitUntil(() => ofJob() !== undefined, () => `the receiver got ${received.length} deliveries, none for ${job.id}`);
      const payload = ofJob();
      expect(payload).toMatchObject({ type: 'job.completed', data: { id: job.id, status: 'COMPLETED' } });
      // The receiver follows the job id to the download route, as a client would.
      const got = await download(t, `${t.url}/outputs/${encodeURIComponent(payload.data.id)}`);
      expect(got.status).toBe(200);
      expect(sha256(got.bytes)).toBe(payload.data.detail.sha256);
      expect(payload.data.detail.sha256).not.toBe(payload.data.detail.upstreamSha256);
      expect(await readXmp(got.bytes)).toMatchObject({ JobId: payload.data.id, Model: 'FACESWAP_V4', Provider: 'SEGMIND' });
      expect((await readC2pa(got.bytes, creds.caPem)).problems).toEqual([]);
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});

describe('DISABLE_SYNTHETIC_MEDIA_LABEL=true', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ env: { DISABLE_SYNTHETIC_MEDIA_LABEL: 'true' } });
  });
  afterAll(async () => {
    await t?.close();
  });

  it('serves the upstream bytes as they came, and says so', async () => {
    const job = await runJob(t, 'createFaceswapV2Job', { sourceImage: MODEL_CASES[2].input.sourceImage, targetImage: TINY_PNG_BASE64 });
    expect(job.output.sha256).toBe(job.output.upstreamSha256);
    expect(job.output.syntheticMediaLabel).toEqual({ xmp: false, c2pa: false, digitalSourceType: null });
    const got = await download(t, job.output.url);
    expect(sha256(got.bytes)).toBe(job.output.upstreamSha256);
    expect((await readXmp(got.bytes)).DigitalSourceType).toBeUndefined();
    expect(await readXmp((await thumbnail(t, job.id, 'output')).bytes)).toEqual({});
  });

  it('takes only true or false', () => {
    expect(() => loadConfig({ DISABLE_SYNTHETIC_MEDIA_LABEL: 'maybe' })).toThrow('DISABLE_SYNTHETIC_MEDIA_LABEL must be true or false, got "maybe"');
    expect(loadConfig({}).labelling.xmp).toBe(true);
  });
});

describe('a labelling failure at completion', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ worker: false });
  });
  afterAll(async () => {
    await t?.close();
  });

  it('does not fail the job: it is logged, and the first read labels the output', async () => {
    const logs: string[] = [];
    // A worker whose C2PA credentials cannot sign (a certificate that does not parse).
    const good = (await makeC2paTestCredentials()).credentials;
    const w = await startWorker(t, {
      log: (line) => logs.push(line),
      labelling: { xmp: true, c2pa: { ...good, certificates: ['-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----'] } },
    });
    try {
      const c = CASES[1]!;
      const created = (await t.gql(createMutation(c.mutation, inputTypeOf(c.mutation)), { input: c.input })).data.result;
      expect((await waitForFinal(t, created.id)).status).toBe('COMPLETED');
      expect(logs.some((l) => l.includes('output not labelled at completion'))).toBe(true);
      const { rows: [row] } = await t.app.db.pool.query(`SELECT served_output_key FROM jobs WHERE id = $1`, [jobUuid(created.id)]);
      expect(row.served_output_key).toBeNull();
      // The API (XMP only) labels it at the first read.
      const job = (await t.gql(OUTPUT, { id: created.id })).data.job;
      expect(job.output.syntheticMediaLabel).toMatchObject({ xmp: true, c2pa: false });
      expect((await readXmp((await download(t, job.output.url)).bytes)).JobId).toBe(created.id);
    } finally {
      await w.stop();
    }
  });
});
