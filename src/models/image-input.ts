// What counts as an image field: an http(s) URL, a data: URI, or plain base64
// of a real image. Checked here so a malformed field fails at the mutation,
// not minutes later at the upstream after the job was paid for.

import { credentialsViolation } from '../net/url-credentials.js';

export type ImageCheck = { ok: true } | { ok: false; rule: string; message: string };

const MAX_URL_LENGTH = 2048;
const DATA_URI = /^data:image\/[a-z0-9.+-]+;base64,(.*)$/is;
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

/** The MIME type of an image of a format the upstream accepts, from its magic number; null for anything else. */
export function imageContentType(bytes: Buffer): string | null {
  const startsWith = (...sig: number[]) => sig.every((b, i) => bytes[i] === b);
  if (startsWith(0x89, 0x50, 0x4e, 0x47)) return 'image/png';
  if (startsWith(0xff, 0xd8, 0xff)) return 'image/jpeg';
  if (startsWith(0x47, 0x49, 0x46, 0x38)) return 'image/gif';
  if (startsWith(0x42, 0x4d)) return 'image/bmp';
  if (startsWith(0x52, 0x49, 0x46, 0x46) && bytes.subarray(8, 12).toString('latin1') === 'WEBP') return 'image/webp';
  return null;
}

/** An http(s) URL, as opposed to an inline image (a data: URI or base64). */
export function isImageUrl(value: string): boolean {
  return /^https?:\/\//i.test(value);
}

/** The bytes of an inline image field that checkImage accepted: a data: URI's payload or plain base64. */
export function inlineImageBytes(value: string): Buffer {
  const trimmed = value.trim();
  const payload = /^data:/i.test(trimmed) ? trimmed.slice(trimmed.indexOf(',') + 1) : trimmed;
  return Buffer.from(payload.replace(/\s+/g, ''), 'base64');
}

function checkBase64(payload: string, maxBytes: number): ImageCheck {
  const compact = payload.replace(/\s+/g, '');
  if (compact.length === 0 || compact.length % 4 !== 0 || !BASE64.test(compact)) {
    return { ok: false, rule: 'image-uri', message: 'must be an http(s) URL, a data: URI or base64' };
  }
  const decodedBytes = (compact.length / 4) * 3 - (compact.endsWith('==') ? 2 : compact.endsWith('=') ? 1 : 0);
  if (decodedBytes > maxBytes) {
    return { ok: false, rule: 'max-bytes', message: `decodes to ${decodedBytes} bytes; the limit is ${maxBytes}` };
  }
  if (!imageContentType(Buffer.from(compact.slice(0, 24), 'base64'))) {
    return { ok: false, rule: 'image-format', message: 'is base64 but not of a PNG, JPEG, WebP, GIF or BMP image' };
  }
  return { ok: true };
}

export function checkImage(value: string, maxBytes: number): ImageCheck {
  if (value.trim() === '') return { ok: false, rule: 'not-empty', message: 'must not be empty' };
  if (isImageUrl(value)) {
    if (value.length > MAX_URL_LENGTH) {
      return { ok: false, rule: 'max-length', message: `URLs are limited to ${MAX_URL_LENGTH} characters` };
    }
    let url: URL;
    try {
      url = new URL(value);
      if (!url.hostname) throw new Error('no host');
    } catch {
      return { ok: false, rule: 'image-uri', message: 'is not a valid http(s) URL' };
    }
    return checkUrlCredentials(url);
  }
  if (/^[a-z][a-z0-9+.-]*:/i.test(value) && !value.toLowerCase().startsWith('data:')) {
    return { ok: false, rule: 'image-uri', message: 'URLs must use http or https' };
  }
  const dataUri = DATA_URI.exec(value);
  if (value.toLowerCase().startsWith('data:') && !dataUri) {
    return { ok: false, rule: 'image-uri', message: 'data URIs must look like data:image/<type>;base64,<data>' };
  }
  return checkBase64(dataUri ? dataUri[1]! : value, maxBytes);
}

/**
 * user:pass@ in an image URL: refused (rule no-credentials), since the field
 * is stored, shown back in the job's parameters and sent to the provider.
 */
function checkUrlCredentials(url: URL): ImageCheck {
  const violation = credentialsViolation(url);
  return violation ? { ok: false, ...violation } : { ok: true };
}
