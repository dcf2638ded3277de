// The worker's check that an output is a whole image (decodedImageType): plain
// PNGs are vouched for without libvips (wholePng); anything that check does not
// vouch for is decoded by sharp, so the verdicts stay sharp's.
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { decodedImageType, wholePng } from '../src/services/providers/segmind-output.js';

const W = 48;
const H = 40;
const raw = Buffer.alloc(W * H * 3);
for (let i = 0; i < raw.length; i++) raw[i] = (i * 31) & 255;
const image = () => sharp(raw, { raw: { width: W, height: H, channels: 3 } });

describe('wholePng', () => {
  it('vouches for whole 8-bit PNGs (RGB, RGBA, grey), as sharp does', async () => {
    for (const png of [await image().png().toBuffer(), await image().ensureAlpha().png().toBuffer(), await image().greyscale().png().toBuffer()]) {
      expect(await wholePng(png)).toBe(true);
      expect(await decodedImageType(png)).toBe('image/png');
    }
  });

  it('refuses cut, corrupted or padded files, and so does the check with sharp behind it', async () => {
    const png = await image().png().toBuffer();
    const flipped = Buffer.from(png);
    flipped[png.length - 30]! ^= 0xff; // inside the last IDAT: the chunk's CRC no longer matches
    const cases = [png.subarray(0, png.length - 12), png.subarray(0, png.length - 40), flipped, Buffer.concat([png, Buffer.from('<html>')])];
    for (const bad of cases) expect(await wholePng(bad)).toBe(false);
    // Without its IEND (the first case) libpng still decodes every row, so sharp accepts it: only the others are broken images.
    for (const bad of cases.slice(1, 3)) expect(await decodedImageType(bad)).toBeNull();
  });

  it('leaves palette and interlaced PNGs to sharp, which still accepts them', async () => {
    for (const png of [await image().png({ palette: true }).toBuffer(), await image().png({ progressive: true }).toBuffer()]) {
      expect(await wholePng(png)).toBe(false);
      expect(await decodedImageType(png)).toBe('image/png');
    }
  });

  it('refuses a PNG whose pixel data is one row short though every CRC is right', async () => {
    const short = await sharp(raw.subarray(0, W * (H - 1) * 3), { raw: { width: W, height: H - 1, channels: 3 } }).png().toBuffer();
    // Give it the full image's header (and that chunk a right CRC): the data now lacks a row.
    const ihdr = Buffer.from(short.subarray(8, 8 + 25));
    ihdr.writeUInt32BE(H, 12);
    const { crc32 } = await import('node:zlib');
    ihdr.writeUInt32BE(crc32(ihdr.subarray(4, 21)), 21);
    const lying = Buffer.concat([short.subarray(0, 8), ihdr, short.subarray(33)]);
    expect(await wholePng(lying)).toBe(false);
    expect(await decodedImageType(lying)).toBeNull();
  });
});
