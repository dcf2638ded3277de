// Signed links: a path that a browser may GET without the Authorization header,
// for one API key, until an expiry. The dashboard's thumbnails use them as plain
// <img src> (no fetch, blob and object URL per image: 0.74× the page's CPU, see
// docs/PERFORMANCE.md §7). Like an S3 presigned URL: HMAC-SHA256 over the path,
// the key's id and the expiry, checked in constant time. Expiries are rounded up
// to a step, so a page reloaded within the step gets the same URLs and the
// browser's cache still holds the images.
import { createHmac, timingSafeEqual } from 'node:crypto';

export interface UrlSigningOptions {
  /** A link is valid for at least this long. */
  ttlSeconds: number;
  /** Expiries are rounded up to a multiple of this (stable URLs within it). */
  stepSeconds: number;
}

export const DEFAULT_URL_SIGNING: UrlSigningOptions = { ttlSeconds: 3600, stepSeconds: 900 };

export type SignedLinkCheck =
  | { ok: true; keyId: string; expiresAt: number }
  | { ok: false; problem: 'unsigned' | 'expired' | 'invalid' };

export class UrlSigner {
  constructor(
    private readonly secret: Buffer,
    private readonly opts: UrlSigningOptions = DEFAULT_URL_SIGNING,
  ) {
    if (secret.length < 32) throw new RangeError('a URL signing secret needs at least 32 bytes');
  }

  /** `path` (as it will be requested, percent-encoded) with key, expires and signature query parameters. */
  sign(path: string, keyId: string, nowMs = Date.now()): string {
    const step = this.opts.stepSeconds;
    const expires = Math.ceil((Math.floor(nowMs / 1000) + this.opts.ttlSeconds) / step) * step;
    const query = new URLSearchParams({ key: keyId, expires: String(expires), signature: this.mac(path, keyId, expires) });
    return `${path}?${query}`;
  }

  /** Whether `query` signs `path`; `unsigned` when it carries no signature at all. */
  check(path: string, query: URLSearchParams, nowMs = Date.now()): SignedLinkCheck {
    const signature = query.get('signature');
    if (signature === null) return { ok: false, problem: 'unsigned' };
    const keyId = query.get('key') ?? '';
    const expiresText = query.get('expires') ?? '';
    const expires = /^\d{1,12}$/.test(expiresText) ? Number(expiresText) : NaN;
    if (!keyId || !Number.isSafeInteger(expires)) return { ok: false, problem: 'invalid' };
    const expected = Buffer.from(this.mac(path, keyId, expires));
    const given = Buffer.from(signature);
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return { ok: false, problem: 'invalid' };
    // Checked after the signature, so an expiry edited into the future fails as invalid.
    if (expires * 1000 <= nowMs) return { ok: false, problem: 'expired' };
    return { ok: true, keyId, expiresAt: expires * 1000 };
  }

  private mac(path: string, keyId: string, expires: number): string {
    return createHmac('sha256', this.secret).update(`${path}\n${keyId}\n${expires}`).digest('base64url');
  }
}
