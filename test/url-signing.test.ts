import { describe, expect, it } from 'vitest';
import { UrlSigner } from '../src/util/url-signing.js';

const secret = Buffer.alloc(32, 7);
const signer = new UrlSigner(secret, { ttlSeconds: 3600, stepSeconds: 900 });
const query = (link: string) => new URL(link, 'http://x').searchParams;
const at = Date.UTC(2026, 11, 2, 18, 7, 30);

describe('UrlSigner', () => {
  it('signs a path for at least the TTL, rounded up to the step, and checks it', () => {
    const link = signer.sign('/thumbnails/Sm9i%2Ba%3D/output', 'key-1', at);
    const q = query(link);
    const expires = Number(q.get('expires'));
    expect(expires % 900).toBe(0);
    expect(expires * 1000).toBeGreaterThanOrEqual(at + 3600_000);
    expect(expires * 1000).toBeLessThan(at + 3600_000 + 900_000);
    expect(signer.check('/thumbnails/Sm9i%2Ba%3D/output', q, at)).toEqual({ ok: true, keyId: 'key-1', expiresAt: expires * 1000 });
    // Within one step the same link comes out (the browser's cache keeps working).
    expect(signer.sign('/thumbnails/Sm9i%2Ba%3D/output', 'key-1', at + 60_000)).toBe(link);
  });

  it('tells an unsigned request, an expired link and an altered one apart', () => {
    const link = signer.sign('/p', 'k', at);
    const q = query(link);
    expect(signer.check('/p', new URLSearchParams(), at)).toEqual({ ok: false, problem: 'unsigned' });
    expect(signer.check('/p', q, Number(q.get('expires')) * 1000)).toEqual({ ok: false, problem: 'expired' });
    expect(signer.check('/q', q, at)).toEqual({ ok: false, problem: 'invalid' });
    for (const [name, value] of [['key', 'other'], ['expires', '99999999999'], ['expires', '1e3'], ['signature', 'short'], ['key', '']]) {
      const edited = new URLSearchParams(q);
      edited.set(name!, value!);
      expect(signer.check('/p', edited, at), `${name}=${value}`).toEqual({ ok: false, problem: 'invalid' });
    }
    // Another deployment's secret signs differently.
    expect(new UrlSigner(Buffer.alloc(32, 8)).check('/p', q, at)).toEqual({ ok: false, problem: 'invalid' });
  });

  it('refuses a secret too short to sign with', () => {
    expect(() => new UrlSigner(Buffer.alloc(16))).toThrow(/32 bytes/);
  });
});
