// Reading images out of the shapes Segmind answers with: raw bytes, base64
// (plain, data: URI or inside JSON), or a URL somewhere in a JSON document.
// The bytes decide what is an image, never the Content-Type: CDNs and gateways
// answer JSON, HTML and XML errors under `image/png` (decodedImageType).

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
