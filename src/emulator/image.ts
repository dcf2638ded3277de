// Deterministic stand-in output: a small pattern whose colours come from a
// sha256 of the model and the effective parameters, so a rerun with the same
// seed is byte-identical and any parameter change shows up in the bytes.

import { createHash } from 'node:crypto';
import sharp from 'sharp';
import type { EmulatedModel, ImageFormat } from './contract.js';

const SIZE = 64;
const CELL = 8;

export const MIME: Readonly<Record<ImageFormat, string>> = {
  png: 'image/png',
  jpeg: 'image/jpeg',
  webp: 'image/webp',
};

export interface RenderedImage {
  bytes: Buffer;
  format: ImageFormat;
  mimeType: string;
  /** Hex sha256 the picture was derived from. */
  digest: string;
}

export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

export function outputDigest(model: EmulatedModel, params: Record<string, unknown>): string {
  const relevant: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(params)) {
    if (model.fields[name]?.affectsOutput !== false) relevant[name] = value;
  }
  return createHash('sha256').update(model.slug).update('\0').update(canonicalJson(relevant)).digest('hex');
}

export async function renderImage(model: EmulatedModel, params: Record<string, unknown>): Promise<RenderedImage> {
  const digest = outputDigest(model, params);
  const { formatField, qualityField, defaultFormat, defaultQuality } = model.output;
  const format = ((formatField && params[formatField]) || defaultFormat) as ImageFormat;
  const quality = Number((qualityField && params[qualityField]) || defaultQuality);

  const raw = Buffer.alloc(SIZE * SIZE * 3);
  const palette = expand(digest, (SIZE / CELL) ** 2 * 3);
  for (let y = 0; y < SIZE; y++) {
    for (let x = 0; x < SIZE; x++) {
      const cell = Math.floor(y / CELL) * (SIZE / CELL) + Math.floor(x / CELL);
      const shade = (x + y) * 2; // a gentle gradient so lossy encoders have something to do
      for (let c = 0; c < 3; c++) {
        raw[(y * SIZE + x) * 3 + c] = (palette[cell * 3 + c]! + shade) & 0xff;
      }
    }
  }
  let pipeline = sharp(raw, { raw: { width: SIZE, height: SIZE, channels: 3 } });
  if (format === 'jpeg') pipeline = pipeline.jpeg({ quality });
  else if (format === 'webp') pipeline = pipeline.webp({ quality });
  else pipeline = pipeline.png({ compressionLevel: 6 });
  return { bytes: await pipeline.toBuffer(), format, mimeType: MIME[format], digest };
}

function expand(seedHex: string, length: number): Buffer {
  const chunks: Buffer[] = [];
  for (let i = 0, have = 0; have < length; i++) {
    const chunk = createHash('sha256').update(seedHex).update(String(i)).digest();
    chunks.push(chunk);
    have += chunk.length;
  }
  return Buffer.concat(chunks).subarray(0, length);
}

/** Recognises the image containers a photo upload is likely to be in. */
export function sniffImage(bytes: Buffer): string | null {
  if (bytes.length >= 8 && bytes.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))) return 'image/png';
  if (bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return 'image/jpeg';
  if (bytes.length >= 12 && bytes.toString('latin1', 0, 4) === 'RIFF' && bytes.toString('latin1', 8, 12) === 'WEBP') return 'image/webp';
  if (bytes.length >= 6 && /^GIF8[79]a$/.test(bytes.toString('latin1', 0, 6))) return 'image/gif';
  if (bytes.length >= 2 && bytes.toString('latin1', 0, 2) === 'BM') return 'image/bmp';
  if (bytes.length >= 4 && (bytes.toString('latin1', 0, 4) === 'II*\0' || bytes.toString('latin1', 0, 4) === 'MM\0*')) return 'image/tiff';
  if (bytes.length >= 12 && bytes.toString('latin1', 4, 8) === 'ftyp') {
    const brand = bytes.toString('latin1', 8, 12);
    if (brand.startsWith('avi')) return 'image/avif';
    if (/^(heic|heix|mif1|msf1)$/.test(brand)) return 'image/heic';
  }
  return null;
}
