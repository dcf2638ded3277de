// Erasure and retention: deleteJob / deleteJobs erase a job's images wherever
// they are kept and leave a tombstone and its ledger line; IMAGE_RETENTION_DAYS
// and JOB_RETENTION_DAYS do the same on a schedule in the worker. "Erased" is
// checked the hard way: a distinctive slice of each image (base64 and raw
// bytes) and its URL are searched for in the text of every table that could
// hold them, in everything the artifact store holds (read beneath it: files,
// rows or objects), and in the API's answers; with each store (a local folder,
// PostgreSQL, an S3-compatible bucket on loopback).
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, waitForFinal, type TestApp } from './support/app.js';
import { rawStoreContents, startS3Server, STORE_KINDS, storeEnv, type S3Server } from './support/artifact-stores.js';
import { createMutation } from './support/fixtures.js';
import { jobUuid, startWorker, type InProcessWorker } from './support/processes.js';
import { waitUntil } from './support/wait.js';

const CREATE = createMutation('createFaceswapV4Job', 'CreateFaceswapV4JobInput');
const IMAGE = 'source url sha256';
const TOMBSTONE = `id status deletedAt imagesErasedAt parameters output { url sha256 } cost { charged { micros } }
  ... on FaceswapV4Job { seed sourceImage { ${IMAGE} } targetImage { ${IMAGE} } }`;
const DELETE = `mutation($id: ID!) { deleteJob(id: $id) { __typename
  ... on JobDeleted { job { ${TOMBSTONE} } }
  ... on NotFoundError { id } ... on JobNotFinishedError { id status message } ... on InvalidInputError { field rule } } }`;
const DELETE_MANY = `mutation($filter: JobFilter!, $first: Int!) { deleteJobs(filter: $filter, first: $first) { __typename
  ... on JobsDeleted { count hasMore jobs { id deletedAt } }
  ... on InvalidInputError { field rule message } } }`;
const READ = `query($id: ID!) { job(id: $id) { ${TOMBSTONE} events { status detail } } }`;

/** A PNG of random noise (noise does not compress, so its bytes are its own). */
function noisePng(side = 48): Promise<Buffer> {
  return sharp(randomBytes(side * side * 3), { raw: { width: side, height: side, channels: 3 } }).png({ compressionLevel: 0 }).toBuffer();
}

/** What must not be found once an image is erased: a slice of its base64 and of its raw bytes. */
function traces(bytes: Buffer) {
  const b64 = bytes.toString('base64');
  const mid = Math.floor(bytes.length / 2);
  return { b64: b64.slice(Math.floor(b64.length / 2), Math.floor(b64.length / 2) + 64), raw: bytes.subarray(mid, mid + 64) };
}

/** The text of every row of the tables a job's images could reach. */
async function databaseText(t: TestApp): Promise<string> {
  const tables = ['jobs', 'job_events', 'webhook_deliveries', 'webhook_attempts', 'ledger_entries', 'upstream_credit_readings'];
  const parts = await Promise.all(tables.map(async (table) =>
    (await t.app.db.pool.query(`SELECT coalesce(string_agg(x::text, E'\\n'), '') AS text FROM ${table} x`)).rows[0].text as string));
  return parts.join('\n');
}

/** Everything the app's artifact store holds, read beneath it. */
function storeFiles(t: TestApp): Promise<Buffer[]> {
  return rawStoreContents(t.config, t.databaseUrl);
}

async function download(t: TestApp, url: string, key = t.key): Promise<{ status: number; body: Buffer }> {
  const res = await fetch(url, { headers: { authorization: `Bearer ${key}` } });
  return { status: res.status, body: Buffer.from(await res.arrayBuffer()) };
}

describe.each(STORE_KINDS)('deleteJob and deleteJobs (%s artifact store)', (kind) => {
  let t: TestApp;
  let s3: S3Server | undefined;
  let worker: InProcessWorker | undefined;
  let receiver: Server;
  let receiverUrl = '';

  beforeAll(async () => {
    if (kind === 's3') s3 = await startS3Server();
    t = await startTestApp({ worker: false, env: { WEBHOOK_ALLOW_PRIVATE: 'true', WEBHOOK_IDLE_POLL_MS: '50', ...(await storeEnv(kind, s3)) } });
    // A receiver that echoes each payload back, so the delivery log holds it.
    receiver = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c) => chunks.push(c));
      req.on('end', () => res.end(Buffer.concat(chunks)));
    });
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
    receiverUrl = `http://127.0.0.1:${(receiver.address() as { port: number }).port}/hook`;
  }, 60_000);
  afterAll(async () => {
    await worker?.stop();
    await t?.close();
    await s3?.close();
    await new Promise((r) => receiver?.close(r));
  });

  it('erases every byte and URL of the images from the database, the store and the API, and keeps the tombstone and the ledger', async () => {
    const hook = await t.gql(`mutation($input: CreateWebhookEndpointInput!) { createWebhookEndpoint(input: $input) { __typename } }`,
      { input: { url: receiverUrl } });
    expect(hook.data.createWebhookEndpoint.__typename).toBe('WebhookEndpointCreated');

    const [source, keptSource] = await Promise.all([noisePng(), noisePng()]);
    const privateUrl = `https://photos.example.com/private/${randomBytes(8).toString('hex')}.jpg`;
    const made = await t.gql(CREATE, { input: { sourceImage: source.toString('base64'), targetImage: privateUrl, provider: 'SEGMIND' } });
    const id = made.data.result.id as string;
    const kept = (await t.gql(CREATE, { input: { sourceImage: keptSource.toString('base64'), targetImage: 'https://example.com/kept.jpg', provider: 'SEGMIND' } })).data.result.id as string;

    // Not finished yet: refused, nothing erased.
    const early = await t.gql(DELETE, { id });
    expect(early.data.deleteJob).toMatchObject({ __typename: 'JobNotFinishedError', id, status: 'QUEUED' });
    expect(early.data.deleteJob.message).toContain('cancel it');

    worker = await startWorker(t);
    await waitForFinal(t, id);
    await waitForFinal(t, kept);
    const before = (await t.gql(READ, { id })).data.job;
    expect(before.status).toBe('COMPLETED');
    const output = await download(t, before.output.url);
    expect(output.status).toBe(200);
    const input = await download(t, before.sourceImage.url);
    expect(input.body.equals(source)).toBe(true);
    // The webhook log holds the job's payloads (echoed back) before deletion.
    await waitUntil(async () => (await databaseText(t)).includes(before.output.sha256), () => 'no webhook attempt logged the output sha256');

    const searched = [traces(source), traces(output.body)];
    const db0 = await databaseText(t);
    expect(db0).toContain(privateUrl);
    expect((await storeFiles(t)).some((f) => f.includes(searched[0]!.raw))).toBe(true);

    const deleted = await t.gql(DELETE, { id });
    expect(deleted.data.deleteJob.__typename).toBe('JobDeleted');
    const tombstone = deleted.data.deleteJob.job;
    expect(tombstone).toMatchObject({ id, status: 'COMPLETED', output: null, sourceImage: null, targetImage: null, seed: before.seed });
    expect(tombstone.deletedAt).toBeTruthy();
    expect(tombstone.imagesErasedAt).toBeTruthy();
    expect(tombstone.cost.charged.micros).toBe(before.cost.charged.micros);
    expect(tombstone.parameters.source_image).toBeNull();
    expect(tombstone.parameters.target_image).toBeNull();

    // The database: no slice of either image, no URL, no output hash; the ledger line stays.
    const db1 = await databaseText(t);
    for (const trace of searched) expect(db1).not.toContain(trace.b64);
    expect(db1).not.toContain(privateUrl);
    expect(db1).not.toContain(before.output.sha256);
    const { rows: ledger } = await t.app.db.pool.query('SELECT amount_micros::text AS micros FROM ledger_entries WHERE job_id = $1', [jobUuid(id)]);
    expect(ledger).toEqual([{ micros: before.cost.charged.micros }]);
    // The artifact store: no file holds the bytes; the other job's files are still there.
    const files = await storeFiles(t);
    for (const trace of searched) expect(files.some((f) => f.includes(trace.raw) || f.includes(trace.b64))).toBe(false);
    expect(files.some((f) => f.includes(traces(keptSource).raw))).toBe(true);
    // The API: the job's answer holds none of it; its download links are gone for good.
    const answer = JSON.stringify((await t.gql(READ, { id })).data);
    for (const trace of searched) expect(answer).not.toContain(trace.b64);
    expect(answer).not.toContain(privateUrl);
    expect((await download(t, before.output.url)).status).toBe(410);
    expect((await download(t, before.sourceImage.url)).status).toBe(410);
    // The other job is untouched.
    const other = (await t.gql(READ, { id: kept })).data.job;
    expect(other.deletedAt).toBeNull();
    expect((await download(t, other.sourceImage.url)).status).toBe(200);

    // Reruns are refused, typed; deleting again changes nothing; another key sees no such job.
    const rerun = await t.gql(`mutation($id: ID!) { rerunJob(id: $id) { __typename ... on JobErasedError { id deletedAt imagesErasedAt message } } }`, { id });
    expect(rerun.data.rerunJob).toMatchObject({ __typename: 'JobErasedError', id, deletedAt: tombstone.deletedAt });
    const again = await t.gql(DELETE, { id });
    expect(again.data.deleteJob.job.deletedAt).toBe(tombstone.deletedAt);
    const stranger = await t.newKey('stranger');
    expect((await t.gql(DELETE, { id: kept }, stranger)).data.deleteJob).toEqual({ __typename: 'NotFoundError', id: kept });
    expect((await t.gql(DELETE, { id: 'not-an-id' })).data.deleteJob).toEqual({ __typename: 'InvalidInputError', field: 'id', rule: 'global-id' });
    // Tombstones are listed as such.
    const listed = await t.gql(`{ jobs(filter: { deleted: true }) { edges { node { id } } } }`);
    expect(listed.data.jobs.edges.map((e: any) => e.node.id)).toEqual([id]);
  });

  it('keeps a stored image another job still uses, and erases it with the last one', async () => {
    const shared = await noisePng();
    const ids: string[] = [];
    for (let i = 0; i < 2; i++) {
      ids.push((await t.gql(CREATE, { input: { sourceImage: shared.toString('base64'), targetImage: 'https://example.com/t.jpg', seed: i, provider: 'SEGMIND' } })).data.result.id);
    }
    for (const id of ids) await waitForFinal(t, id);
    const second = (await t.gql(READ, { id: ids[1] })).data.job;
    await t.gql(DELETE, { id: ids[0] });
    expect((await download(t, second.sourceImage.url)).body.equals(shared)).toBe(true);
    await t.gql(DELETE, { id: ids[1] });
    expect((await storeFiles(t)).some((f) => f.includes(traces(shared).raw))).toBe(false);
  });

  it("erases the dashboard's thumbnails with the job; one another job was served stays until that job's erasure", async () => {
    const shared = await noisePng(96);
    const ids: string[] = [];
    for (let i = 0; i < 2; i++) {
      ids.push((await t.gql(CREATE, { input: { sourceImage: shared.toString('base64'), targetImage: 'https://example.com/t.jpg', seed: 10 + i, provider: 'SEGMIND' } })).data.result.id);
    }
    for (const id of ids) await waitForFinal(t, id);
    const thumbnail = (id: string, field: string) => download(t, `${t.url}/thumbnails/${id}/${field}`);
    const first = { input: await thumbnail(ids[0]!, 'sourceImage'), output: await thumbnail(ids[0]!, 'output') };
    const second = { input: await thumbnail(ids[1]!, 'sourceImage'), output: await thumbnail(ids[1]!, 'output') };
    for (const r of [first.input, first.output, second.input, second.output]) expect(r.status).toBe(200);
    // One input, so one thumbnail file for both jobs; the outputs' thumbnails name their jobs, so differ.
    expect(second.input.body.equals(first.input.body)).toBe(true);
    expect(second.output.body.equals(first.output.body)).toBe(false);
    const stored = (files: Buffer[], bytes: Buffer) => files.some((f) => f.equals(bytes));
    expect(stored(await storeFiles(t), first.output.body)).toBe(true);

    await t.gql(DELETE, { id: ids[0] });
    const files = await storeFiles(t);
    expect(stored(files, first.output.body)).toBe(false);
    expect(stored(files, first.input.body)).toBe(true); // the second job's thumbnail too
    expect(stored(files, second.output.body)).toBe(true);
    expect((await thumbnail(ids[0]!, 'sourceImage')).status).toBe(410);
    expect((await thumbnail(ids[0]!, 'output')).status).toBe(410);
    expect((await thumbnail(ids[1]!, 'sourceImage')).body.equals(second.input.body)).toBe(true);

    await t.gql(DELETE, { id: ids[1] });
    const after = await storeFiles(t);
    for (const bytes of [first.input.body, second.output.body]) expect(stored(after, bytes)).toBe(false);
    const { rows } = await t.app.db.pool.query('SELECT count(*)::int AS n FROM job_thumbnails WHERE job_id = ANY($1::uuid[])', [ids.map(jobUuid)]);
    expect(rows[0].n).toBe(0);
  });

  it('deleteJobs deletes the matching finished jobs of the caller, at most `first` per call', async () => {
    const other = await t.newKey('other-owner');
    const mine: string[] = [];
    for (let i = 0; i < 3; i++) {
      mine.push((await t.gql(CREATE, { input: { sourceImage: 'https://example.com/s.jpg', targetImage: 'https://example.com/t.jpg', seed: 100 + i, provider: 'SEGMIND' } })).data.result.id);
    }
    const theirs = (await t.gql(CREATE, { input: { sourceImage: 'https://example.com/s.jpg', targetImage: 'https://example.com/t.jpg', seed: 100, provider: 'SEGMIND' } }, other)).data.result.id;
    for (const id of mine) await waitForFinal(t, id);
    await waitForFinal(t, theirs, { key: other });

    const filter = { model: ['FACESWAP_V4'], createdAfter: '2000-01-01T00:00:00Z' };
    const page1 = (await t.gql(DELETE_MANY, { filter, first: 2 })).data.deleteJobs;
    expect(page1).toMatchObject({ __typename: 'JobsDeleted', count: 2, hasMore: true });
    const rest = (await t.gql(DELETE_MANY, { filter, first: 100 })).data.deleteJobs;
    expect(rest.hasMore).toBe(false);
    const all = [...page1.jobs, ...rest.jobs].map((j: any) => j.id);
    for (const id of mine) expect(all).toContain(id);
    expect(all).not.toContain(theirs);
    expect((await t.gql(`query($id: ID!) { job(id: $id) { deletedAt } }`, { id: theirs }, other)).data.job.deletedAt).toBeNull();
    expect((await t.gql(DELETE_MANY, { filter, first: 100 })).data.deleteJobs).toMatchObject({ count: 0, hasMore: false });

    // Typed refusals naming the field; nothing deleted.
    const refusals: Array<[Record<string, unknown>, number, string, string]> = [
      [{}, 0, 'first', 'range'],
      [{}, 101, 'first', 'range'],
      [{ status: ['QUEUED', 'PROCESSING'] }, 10, 'filter.status', 'final'],
      [{ costMin: 'lots' }, 10, 'filter.costMin', 'usd'],
      [{ deleted: true }, 10, 'filter.deleted', 'not-deleted'],
      [{ rerunOf: 'nope' }, 10, 'filter.rerunOf', 'global-id'],
    ];
    for (const [f, first, field, rule] of refusals) {
      const res = (await t.gql(DELETE_MANY, { filter: f, first }, other)).data.deleteJobs;
      expect(res, JSON.stringify(f)).toMatchObject({ __typename: 'InvalidInputError', field, rule });
    }
    expect((await t.gql(`query($id: ID!) { job(id: $id) { deletedAt } }`, { id: theirs }, other)).data.job.deletedAt).toBeNull();
  });
});

describe.each(STORE_KINDS)('IMAGE_RETENTION_DAYS and JOB_RETENTION_DAYS (%s artifact store)', (kind) => {
  let t: TestApp;
  let s3: S3Server | undefined;
  beforeAll(async () => {
    if (kind === 's3') s3 = await startS3Server();
    t = await startTestApp({ env: { IMAGE_RETENTION_DAYS: '1', JOB_RETENTION_DAYS: '3', RETENTION_SWEEP_INTERVAL_MS: '50', ...(await storeEnv(kind, s3)) } });
  }, 60_000);
  afterAll(async () => {
    await t?.close();
    await s3?.close();
  });

  it('the worker erases images after one period and deletes jobs after the other', async () => {
    const images = await Promise.all([noisePng(), noisePng(), noisePng()]);
    const ids: string[] = [];
    for (const image of images) {
      ids.push((await t.gql(CREATE, { input: { sourceImage: image.toString('base64'), targetImage: 'https://example.com/t.jpg', provider: 'SEGMIND' } })).data.result.id);
    }
    for (const id of ids) await waitForFinal(t, id);
    // Finished 2 days ago (past the image period), 4 days ago (past both), and now.
    await t.app.db.pool.query(`UPDATE jobs SET finished_at = now() - interval '2 days' WHERE id = $1`, [jobUuid(ids[0]!)]);
    await t.app.db.pool.query(`UPDATE jobs SET finished_at = now() - interval '4 days' WHERE id = $1`, [jobUuid(ids[1]!)]);

    const read = async (id: string) => (await t.gql(READ, { id })).data.job;
    await waitUntil(async () => Boolean((await read(ids[0]!)).imagesErasedAt && (await read(ids[1]!)).deletedAt),
      async () => `not swept: ${JSON.stringify(await Promise.all(ids.slice(0, 2).map(read)))}`);
    const [old, older, fresh] = await Promise.all(ids.map(read));
    expect(old).toMatchObject({ deletedAt: null, sourceImage: null, output: null, status: 'COMPLETED' });
    expect(older.deletedAt, JSON.stringify([old, older, fresh])).toBeTruthy();
    expect(fresh).toMatchObject({ deletedAt: null, imagesErasedAt: null });
    expect(fresh.sourceImage.source).toBe('INLINE');
    // The sweep removes the files after its transaction commits: wait for it.
    const holds = (files: Buffer[], i: number) => files.some((f) => f.includes(traces(images[i]!).raw));
    const files = await waitUntil(async () => {
      const now = await storeFiles(t);
      return !holds(now, 0) && !holds(now, 1) ? now : undefined;
    }, async () => {
      const now = await storeFiles(t);
      return `images still stored: ${[0, 1].filter((i) => holds(now, i)).join(', ')}`;
    });
    expect(holds(files, 2)).toBe(true);
  });
});
