// The artifact stores: content-addressed, with output receipts and erasure,
// the same behaviour whichever one is configured (a local folder, PostgreSQL,
// an S3-compatible bucket, each real: the test's PostgreSQL and an s3rver on
// loopback); and image sizes read from the header (PNG, JPEG) without sharp,
// falling back to sharp for other formats.
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.js';
import { ArtifactStoreUnavailable } from '../src/services/artifact-store-unavailable.js';
import { openArtifactStore } from '../src/services/artifact-stores.js';
import { headerDimensions, LocalArtifactStore, type ArtifactStore } from '../src/services/artifacts.js';
import { rawStoreContents, S3_CREDENTIALS, startS3Server, STORE_KINDS, storeEnv, type S3Server } from './support/artifact-stores.js';
import { createTestDatabase } from './support/db.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'swapyard-artifacts-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const image = (format: 'png' | 'jpeg' | 'webp', width: number, height: number) =>
  sharp({ create: { width, height, channels: 3, background: '#336699' } })[format]().toBuffer();

describe('headerDimensions', () => {
  it.each([
    ['png', 640, 480], ['png', 1, 2049], ['jpeg', 1024, 768], ['jpeg', 33, 17],
  ] as const)('%s %i×%i: the size sharp reads', async (format, width, height) => {
    const bytes = await image(format, width, height);
    expect(headerDimensions(bytes)).toEqual({ width, height });
    const meta = await sharp(bytes).metadata();
    expect({ width: meta.width, height: meta.height }).toEqual({ width, height });
  });

  it('a progressive JPEG (SOF2) with EXIF before the frame header', async () => {
    const bytes = await sharp({ create: { width: 300, height: 200, channels: 3, background: '#000' } })
      .withMetadata({ orientation: 1 }).jpeg({ progressive: true }).toBuffer();
    expect(headerDimensions(bytes)).toEqual({ width: 300, height: 200 });
  });

  it('null for other formats, truncated JPEGs and non-images', async () => {
    expect(headerDimensions(await image('webp', 10, 10))).toBeNull();
    const jpeg = await image('jpeg', 50, 50);
    expect(headerDimensions(jpeg.subarray(0, 20))).toBeNull();
    expect(headerDimensions(Buffer.from('not an image at all, just text'))).toBeNull();
  });
});

async function drain(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

async function collect(items: AsyncIterable<string>): Promise<string[]> {
  const out: string[] = [];
  for await (const item of items) out.push(item);
  return out;
}
const collectKeys = (store: ArtifactStore) => collect(store.keys());

describe.each(STORE_KINDS)('the %s artifact store', (kind) => {
  let store: ArtifactStore;
  let s3: S3Server | undefined;
  let config: ReturnType<typeof loadConfig>;
  let databaseUrl: string;

  beforeAll(async () => {
    if (kind === 's3') s3 = await startS3Server();
    config = loadConfig({ SWAPYARD_DATA_DIR: join(dir, kind), ...(await storeEnv(kind, s3)) });
    databaseUrl = kind === 'postgres' ? await createTestDatabase() : 'postgresql://unused';
    store = await openArtifactStore(config, databaseUrl);
    expect(store.kind).toBe(kind);
  }, 30_000);
  afterAll(async () => {
    await store?.close();
    await s3?.close();
  });

  it('stores by content hash with the size; the same bytes twice are one artifact; WebP sizes come from sharp', async () => {
    const png = await image('png', 64, 48);
    const a = await store.put(png, 'image/png');
    const b = await store.put(png, 'image/png');
    expect(a).toEqual(b);
    expect(a).toMatchObject({ bytes: png.length, mimeType: 'image/png', width: 64, height: 48 });
    expect(a.key).toBe(`${a.sha256}.png`);
    expect(a.sha256).toBe(createHash('sha256').update(png).digest('hex'));
    expect(Buffer.compare((await store.read(a.key))!, png)).toBe(0);
    const webp = await store.put(await image('webp', 20, 10), 'image/webp');
    expect(webp).toMatchObject({ width: 20, height: 10 });
    const text = await store.put(Buffer.from('plain bytes'), 'application/octet-stream');
    expect(text).toMatchObject({ width: null, height: null, key: expect.stringMatching(/\.bin$/) });
    expect((await collectKeys(store)).filter((k) => k === a.key)).toHaveLength(1);
  });

  it('open streams the bytes (3 MiB: several slices in PostgreSQL); unknown and malformed keys are null', async () => {
    const big = randomBytes(3 * 1024 * 1024 + 17);
    const stored = await store.put(big, 'application/octet-stream');
    const stream = await store.open(stored.key);
    expect(stream).not.toBeNull();
    expect((await drain(stream!)).equals(big)).toBe(true);
    const unknown = `${'0'.repeat(64)}.png`;
    expect(await store.open(unknown)).toBeNull();
    expect(await store.read(unknown)).toBeNull();
    for (const bad of ['../../etc/passwd', `${stored.sha256}.BIN`, "x'; DROP TABLE artifacts; --", '']) {
      expect(await store.open(bad), bad).toBeNull();
      expect(await store.read(bad), bad).toBeNull();
    }
  });

  it('concurrent puts of the same bytes all succeed and leave one artifact', async () => {
    const bytes = await image('jpeg', 40, 30);
    const results = await Promise.all(Array.from({ length: 12 }, () => store.put(bytes, 'image/jpeg')));
    expect(new Set(results.map((r: unknown) => JSON.stringify(r))).size).toBe(1);
    expect(results[0]).toMatchObject({ width: 40, height: 30, key: expect.stringMatching(/\.jpg$/) });
    expect((await collectKeys(store)).filter((k) => k === results[0]!.key)).toHaveLength(1);
    expect((await store.read(results[0]!.key))!.equals(bytes)).toBe(true);
  });

  it('keys lists every artifact once; remove erases one (again, or a missing or malformed key, is no error)', async () => {
    const puts = await Promise.all([1, 2, 3].map((n) => store.put(Buffer.from(`artifact ${n} of ${kind}`), 'image/gif')));
    const keys = await collectKeys(store);
    expect(new Set(keys).size).toBe(keys.length);
    for (const p of puts) expect(keys).toContain(p.key);
    await store.remove(puts[1]!.key);
    await store.remove(puts[1]!.key);
    await store.remove('../not-a-key');
    await store.remove(`${'0'.repeat(64)}.png`);
    expect(await store.read(puts[1]!.key)).toBeNull();
    expect(await store.open(puts[1]!.key)).toBeNull();
    const after = await collectKeys(store);
    expect(after).not.toContain(puts[1]!.key);
    expect(after).toContain(puts[0]!.key);
    expect(after.length).toBe(keys.length - 1);
    // Erased underneath too: no file, row or object holds the bytes any more.
    const raw = await rawStoreContents(config, databaseUrl);
    expect(raw.some((b) => b.includes(Buffer.from(`artifact 2 of ${kind}`)))).toBe(false);
    expect(raw.some((b) => b.includes(Buffer.from(`artifact 1 of ${kind}`)))).toBe(true);
  });

  it('receipts: kept per job until dropped, listed, read only while their artifact is there', async () => {
    const output = await store.put(Buffer.from(`an output of ${kind}`), 'image/png');
    const [job, other, orphan] = [randomUUID(), randomUUID(), randomUUID()];
    expect(await store.readReceipt(job)).toBeNull();
    const receipt = { artifact: output, upstream: { status: 'COMPLETED', image: 'https://upstream.example/out.png' } };
    await store.putReceipt(job, receipt);
    expect(await store.readReceipt(job)).toEqual(receipt);
    // Written again (a retry of the same step): the last one is kept.
    const again = { ...receipt, upstream: { status: 'COMPLETED', attempt: 2 } };
    await store.putReceipt(job, again);
    expect(await store.readReceipt(job)).toEqual(again);
    await store.putReceipt(other, receipt);
    // A receipt whose artifact is gone names nothing to complete the job with.
    const lost = await store.put(Buffer.from(`a lost output of ${kind}`), 'image/jpeg');
    await store.putReceipt(orphan, { artifact: lost, upstream: null });
    await store.remove(lost.key);
    expect(await store.readReceipt(orphan)).toBeNull();
    expect((await collect(store.receipts())).sort()).toEqual([job, other, orphan].sort());
    // Receipts are not artifacts.
    expect(await collectKeys(store)).not.toContain(`${job}.json`);

    await store.dropReceipt(job);
    await store.dropReceipt(job);
    expect(await store.readReceipt(job)).toBeNull();
    expect(await store.readReceipt(other)).toEqual(receipt);
    await Promise.all([other, orphan].map((id) => store.dropReceipt(id)));
    expect(await collect(store.receipts())).toEqual([]);
  });

  it('receipts refuse what is not a job id, so no name becomes a path, an object or a row', async () => {
    const stored = await store.put(Buffer.from('x'), 'image/png');
    for (const bad of ['../../etc/passwd', 'receipts/../x', "1'; DROP TABLE artifact_receipts; --", '']) {
      await expect(store.putReceipt(bad, { artifact: stored, upstream: null }), bad).rejects.toThrow('not a job id');
      await expect(store.readReceipt(bad), bad).rejects.toThrow('not a job id');
      await expect(store.dropReceipt(bad), bad).rejects.toThrow('not a job id');
    }
    expect(await collect(store.receipts())).toEqual([]);
  });
});

describe('LocalArtifactStore', () => {
  it('makes its folder again if it was removed while running', async () => {
    const root = join(dir, 'removed');
    const store = new LocalArtifactStore(root);
    const bytes = Buffer.from('one');
    const first = await store.put(bytes, 'image/png');
    await rm(root, { recursive: true, force: true });
    // Same content, same shard folder: the store believes it exists.
    const again = await store.put(bytes, 'image/png');
    expect(again).toEqual(first);
    expect(await readFile(join(root, again.key.slice(0, 2), again.key))).toEqual(bytes);
  });
});

describe('S3ArtifactStore.read when a connection is cut mid-body', () => {
  // A stand-in S3 on loopback that answers each GET with the whole length in
  // its headers but cuts the connection after `cutFirst` answers' first half.
  async function cuttingServer(bytes: Buffer, cutFirst: number) {
    let gets = 0;
    const server = createServer((req, res) => {
      gets += 1;
      res.writeHead(200, { 'content-type': 'image/png', 'content-length': bytes.length });
      if (gets <= cutFirst) {
        res.write(bytes.subarray(0, bytes.length / 2), () => res.destroy());
      } else {
        res.end(bytes);
      }
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const endpoint = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
    const { S3ArtifactStore } = await import('../src/services/s3-artifacts.js');
    const store = new S3ArtifactStore(loadConfig({ ...S3_CREDENTIALS, S3_BUCKET: 'cut', S3_ENDPOINT: endpoint }).artifacts.s3!);
    return {
      store, endpoint, gets: () => gets,
      close: async () => {
        await store.close();
        await new Promise((r) => server.close(r));
      },
    };
  }

  it('reads it again: a body cut twice still arrives whole', async () => {
    const bytes = randomBytes(256 * 1024);
    const s = await cuttingServer(bytes, 2);
    try {
      expect((await s.store.read(`${'a'.repeat(64)}.png`))!.equals(bytes)).toBe(true);
      expect(s.gets()).toBe(3);
    } finally {
      await s.close();
    }
  });

  it('gives up after three tries with ArtifactStoreUnavailable naming the bucket, not the bytes', async () => {
    const s = await cuttingServer(randomBytes(256 * 1024), Infinity);
    try {
      const err = await s.store.read(`${'b'.repeat(64)}.png`).then(() => null, (e: Error) => e);
      expect(err).toBeInstanceOf(ArtifactStoreUnavailable);
      expect(err!.message).toBe(`S3 artifact store (bucket "cut" at ${s.endpoint}): get failed: ECONNRESET`);
      expect(s.gets()).toBe(3);
    } finally {
      await s.close();
    }
  });
});
