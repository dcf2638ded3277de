// The artifact store: content-addressed files, and image sizes read from the
// header (PNG, JPEG) without sharp, falling back to sharp for other formats.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { headerDimensions, LocalArtifactStore } from '../src/services/artifacts.js';

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

describe('LocalArtifactStore', () => {
  it('stores by content hash with the size; the same bytes twice are one file; WebP sizes come from sharp', async () => {
    const store = new LocalArtifactStore(dir);
    const png = await image('png', 64, 48);
    const a = await store.put(png, 'image/png');
    const b = await store.put(png, 'image/png');
    expect(a).toEqual(b);
    expect(a).toMatchObject({ bytes: png.length, mimeType: 'image/png', width: 64, height: 48 });
    expect(a.key).toBe(`${a.sha256}.png`);
    expect(Buffer.compare((await store.read(a.key))!, png)).toBe(0);
    const webp = await store.put(await image('webp', 20, 10), 'image/webp');
    expect(webp).toMatchObject({ width: 20, height: 10 });
    const text = await store.put(Buffer.from('plain bytes'), 'application/octet-stream');
    expect(text).toMatchObject({ width: null, height: null, key: expect.stringMatching(/\.bin$/) });
  });

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
