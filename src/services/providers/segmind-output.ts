// Reading images out of the shapes Segmind answers with: raw bytes, base64
// (plain, data: URI or inside JSON), or a URL somewhere in a JSON document.
// The bytes decide what is an image, never the Content-Type: CDNs and gateways
// answer JSON, HTML and XML errors under `image/png` (decodedImageType).

import { promisify } from 'node:util';
import { crc32, inflate, inflateSync } from 'node:zlib';
import sharp from 'sharp';

/** The image type from its first bytes; null when it is not a known image. */
export function sniffImageType(bytes: Buffer): string | null {
  if (bytes.length >= 8 && bytes.readUInt32BE(0) === 0x89504e47 && bytes.readUInt32BE(4) === 0x0d0a1a0a) return 'image/png';
  if (bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return 'image/jpeg';
  if (bytes.length >= 12 && bytes.toString('latin1', 0, 4) === 'RIFF' && bytes.toString('latin1', 8, 12) === 'WEBP') return 'image/webp';
  if (bytes.length >= 6 && /^GIF8[79]a$/.test(bytes.toString('latin1', 0, 6))) return 'image/gif';
  if (bytes.length >= 12 && bytes.toString('latin1', 4, 8) === 'ftyp' && bytes.toString('latin1', 8, 11) === 'avi') return 'image/avif';
  return null;
}

/**
 * The image type when the bytes are a whole image: known magic bytes AND a full
 * decode by sharp (libvips), so a body that only starts like a PNG (cut off, or
 * an error page after a signature) is refused too. Null otherwise. Every pixel
 * is decoded but only one channel is kept (w×h bytes): 2–5 times cheaper than
 * `stats()` or a full raw buffer, measured on a loaded 2-core machine.
 */
export async function decodedImageType(bytes: Buffer): Promise<string | null> {
  const sniffed = sniffImageType(bytes);
  if (!sniffed) return null;
  // A plain PNG shown whole without libvips (wholePng); anything it does not vouch for goes to sharp.
  if (sniffed === 'image/png' && (await wholePng(bytes))) return sniffed;
  try {
    // failOn 'truncated': a JPEG cut short is only a libjpeg warning, which 'error' would let through.
    await sharp(bytes, { failOn: 'truncated', limitInputPixels: MAX_OUTPUT_PIXELS }).extractChannel(0).raw().toBuffer();
    return sniffed;
  } catch {
    return null;
  }
}

/** Largest output decoded (about 16k × 16k); sharp's own default, stated. */
const MAX_OUTPUT_PIXELS = 268_402_689;

const inflateAsync = promisify(inflate);
/** Up to this many bytes of pixel data are inflated on the event loop (well under a millisecond); more on the thread pool. */
const INFLATE_ON_LOOP_BYTES = 1 << 20;
/** Bytes per pixel of the PNG colour types the fast path reads at bit depth 8: grey, RGB, grey+alpha, RGBA. */
const PNG_CHANNELS: Record<number, number> = { 0: 1, 2: 3, 4: 2, 6: 4 };

/**
 * True when `bytes` are a whole PNG of the plainest kind: 8-bit grey, RGB,
 * grey+alpha or RGBA, not interlaced, within MAX_OUTPUT_PIXELS; every chunk's
 * CRC right; its IDAT chunks together one complete zlib stream that inflates
 * to exactly one filter byte (0–4) and one row of pixels per line; IEND last.
 * Decoding such a file cannot fail: unfiltering is arithmetic. False means
 * only "not shown here": the caller asks sharp (libvips) then, which decodes
 * every pixel, so the verdict on anything else is the same as before. What it
 * saves is libvips' set-up and thread hop, the largest CPU cost of a
 * completed job in the worker (docs/PERFORMANCE.md §10).
 */
export async function wholePng(bytes: Buffer): Promise<boolean> {
  try {
    if (bytes.length < 8 + 25 + 12) return false;
    let at = 8;
    let width = 0;
    let height = 0;
    let channels = 0;
    const idat: Buffer[] = [];
    let idatDone = false;
    let ended = false;
    while (at + 12 <= bytes.length) {
      const length = bytes.readUInt32BE(at);
      const type = bytes.toString('latin1', at + 4, at + 8);
      const end = at + 12 + length;
      if (length > 0x7fffffff || end > bytes.length) return false;
      if (crc32(bytes.subarray(at + 4, at + 8 + length)) !== bytes.readUInt32BE(at + 8 + length)) return false;
      const data = bytes.subarray(at + 8, at + 8 + length);
      if (at === 8) {
        if (type !== 'IHDR' || length !== 13) return false;
        width = data.readUInt32BE(0);
        height = data.readUInt32BE(4);
        channels = PNG_CHANNELS[data[9]!] ?? 0;
        // bit depth 8, compression 0, filter 0, no interlace
        if (data[8] !== 8 || channels === 0 || data[10] !== 0 || data[11] !== 0 || data[12] !== 0) return false;
        if (width === 0 || height === 0 || width * height > MAX_OUTPUT_PIXELS) return false;
      } else if (type === 'IDAT') {
        if (idatDone) return false; // IDAT chunks must be consecutive
        idat.push(data);
      } else if (type === 'IEND') {
        ended = end === bytes.length && length === 0;
        break;
      } else {
        if (idat.length > 0) idatDone = true;
        // An unknown critical chunk (upper-case first letter) is one a decoder must refuse; PLTE belongs to palette images.
        if ((type.charCodeAt(0) & 0x20) === 0) return false;
      }
      at = end;
    }
    if (!ended || idat.length === 0) return false;
    const rowBytes = width * channels;
    const expected = height * (rowBytes + 1);
    const stream = Buffer.concat(idat);
    const options = { maxOutputLength: expected + 1 };
    const pixels = expected <= INFLATE_ON_LOOP_BYTES ? inflateSync(stream, options) : await inflateAsync(stream, options);
    if (pixels.length !== expected) return false;
    for (let row = 0; row < height; row++) if (pixels[row * (rowBytes + 1)]! > 4) return false;
    return true;
  } catch {
    return false; // a stream that does not inflate whole, an output larger than the header says: sharp decides
  }
}

const BASE64 = /^[A-Za-z0-9+/_-]+={0,2}$/;

/** Decodes base64 (plain or data: URI) image text; null when it is not one. */
export function decodeBase64Image(text: string): { bytes: Buffer; mimeType: string } | null {
  let payload = text.trim();
  if (payload.startsWith('"') && payload.endsWith('"')) payload = payload.slice(1, -1); // a JSON string body
  if (payload.startsWith('data:')) {
    const comma = payload.indexOf(',');
    if (comma < 0) return null;
    payload = payload.slice(comma + 1);
  }
  payload = payload.replace(/\s+/g, '');
  if (payload.length < 8 || !BASE64.test(payload)) return null;
  const bytes = Buffer.from(payload, 'base64');
  // Only the magic bytes here (a cheap filter over every string of a document); the caller decodes the one it keeps.
  const mimeType = sniffImageType(bytes);
  return mimeType ? { bytes, mimeType } : null;
}

export function isHttpUrl(value: unknown): value is string {
  return typeof value === 'string' && /^https?:\/\/[^\s]+$/i.test(value.trim());
}

const IMAGE_PATH = /\.(png|jpe?g|webp|gif|avif)$/i;

/**
 * The first http(s) URL anywhere in a parsed output document, preferring one
 * whose path looks like an image, since workflows may also report other links.
 */
export function findImageUrl(value: unknown): string | null {
  const urls: string[] = [];
  collectUrls(value, urls, 0);
  const looksLikeImage = urls.find((u) => {
    try {
      return IMAGE_PATH.test(new URL(u).pathname);
    } catch {
      return false;
    }
  });
  return looksLikeImage ?? urls[0] ?? null;
}

function collectUrls(value: unknown, into: string[], depth: number): void {
  if (depth > 20) return;
  if (isHttpUrl(value)) into.push(value.trim());
  else if (Array.isArray(value)) value.forEach((v) => collectUrls(v, into, depth + 1));
  else if (value && typeof value === 'object') Object.values(value).forEach((v) => collectUrls(v, into, depth + 1));
}

/** The first inline (base64) image anywhere in a parsed document. */
export function findInlineImage(value: unknown, depth = 0): { bytes: Buffer; mimeType: string } | null {
  if (depth > 20) return null;
  if (typeof value === 'string') return value.length >= 64 ? decodeBase64Image(value) : null;
  const children = Array.isArray(value) ? value : value && typeof value === 'object' ? Object.values(value) : [];
  for (const child of children) {
    const found = findInlineImage(child, depth + 1);
    if (found) return found;
  }
  return null;
}

/** A copy fit for a job row: long strings (inline images) replaced by a note. */
export function withoutLargeValues(value: unknown, limit = 2048, depth = 0): unknown {
  if (typeof value === 'string') return value.length > limit ? `<${value.length} characters omitted>` : value;
  if (depth > 20) return '<too deep>';
  if (Array.isArray(value)) return value.map((v) => withoutLargeValues(v, limit, depth + 1));
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, withoutLargeValues(v, limit, depth + 1)]));
  }
  return value;
}

export function parseJson(body: Buffer): unknown {
  try {
    return JSON.parse(body.toString('utf8'));
  } catch {
    return undefined;
  }
}
