// Reading images out of the shapes Segmind answers with: raw bytes, base64
// (plain, data: URI or inside JSON), or a URL somewhere in a JSON document.

/** The image type from its first bytes; null when it is not a known image. */
export function sniffImageType(bytes: Buffer): string | null {
  if (bytes.length >= 8 && bytes.readUInt32BE(0) === 0x89504e47 && bytes.readUInt32BE(4) === 0x0d0a1a0a) return 'image/png';
  if (bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return 'image/jpeg';
  if (bytes.length >= 12 && bytes.toString('latin1', 0, 4) === 'RIFF' && bytes.toString('latin1', 8, 12) === 'WEBP') return 'image/webp';
  if (bytes.length >= 6 && /^GIF8[79]a$/.test(bytes.toString('latin1', 0, 6))) return 'image/gif';
  if (bytes.length >= 12 && bytes.toString('latin1', 4, 8) === 'ftyp' && bytes.toString('latin1', 8, 11) === 'avi') return 'image/avif';
  return null;
}

/** The image type: the bytes decide, the declared Content-Type is the fallback. */
export function imageMimeType(bytes: Buffer, contentType: string | undefined): string | null {
  const sniffed = sniffImageType(bytes);
  if (sniffed) return sniffed;
  const declared = contentType?.split(';')[0]?.trim().toLowerCase();
  return declared?.startsWith('image/') && bytes.length > 0 ? declared : null;
}

const BASE64 = /^[A-Za-z0-9+/_-]+={0,2}$/;

/** Decodes base64 (plain or data: URI) image text; null when it is not one. */
export function decodeBase64Image(text: string): { bytes: Buffer; mimeType: string } | null {
  let payload = text.trim();
  if (payload.startsWith('"') && payload.endsWith('"')) payload = payload.slice(1, -1); // a JSON string body
  let declared: string | undefined;
  if (payload.startsWith('data:')) {
    const comma = payload.indexOf(',');
    if (comma < 0) return null;
    declared = payload.slice(5, comma).split(';')[0];
    payload = payload.slice(comma + 1);
  }
  payload = payload.replace(/\s+/g, '');
  if (payload.length < 8 || !BASE64.test(payload)) return null;
  const bytes = Buffer.from(payload, 'base64');
  const mimeType = imageMimeType(bytes, declared);
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
