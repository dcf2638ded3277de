// Turning an image field into bytes: an http(s) URL is fetched, a data: URI
// or plain base64 is decoded. Fetching a URL is a request this server makes
// on a client's behalf, so the webhook SSRF rules apply (services/webhooks.ts):
// no loopback, private, link-local or reserved addresses, checked on the URL's
// host before connecting and again on the address actually connected to (a
// name may resolve elsewhere at connect time), and on every redirect hop.
// Hosts on `allowHosts` (exact names or IP literals) are exempt, for operators
// who serve inputs from their own network. Bodies are capped in bytes and the
// whole fetch, redirects included, in time.
import { lookup as dnsLookup, type LookupAddress, type LookupOptions } from 'node:dns';
import { isIP } from 'node:net';
import { Agent, request } from 'undici';
import { checkImage } from '../models/image-input.js';
import { isNonPublicAddress, privateTargetReason } from '../services/webhooks.js';

export interface FetchInputOptions {
  /** Largest image accepted, in bytes (fetched or decoded). */
  maxBytes: number;
  /** Deadline for one URL fetch, redirects and body included. */
  timeoutMs: number;
  /** Host names or IP literals that may be private (exact, case-insensitive). */
  allowHosts?: readonly string[];
  /** Redirect hops followed, each re-checked. Default 3. */
  maxRedirects?: number;
  signal?: AbortSignal;
  /** DNS resolution for the pre-connect check (tests); defaults to the system resolver. */
  resolve?: (host: string) => Promise<string[]>;
}

export const DEFAULT_FETCH_OPTIONS: FetchInputOptions = { maxBytes: 15 * 1024 * 1024, timeoutMs: 15_000, maxRedirects: 3 };

export type InputRule = 'scheme' | 'credentials' | 'private-address' | 'too-large' | 'timeout' | 'http-status' | 'network' | 'redirects' | 'format';

/** Why an input could not be turned into bytes; the job fails INVALID_INPUT with this message. */
export class InputFetchError extends Error {
  override readonly name = 'InputFetchError';
  readonly code = 'INVALID_INPUT' as const;
  constructor(readonly rule: InputRule, message: string) {
    super(message);
  }
}

const bare = (host: string) => host.replace(/^\[|\]$/g, '').toLowerCase();

function isAllowed(host: string, allowHosts: readonly string[] | undefined): boolean {
  const h = bare(host);
  return (allowHosts ?? []).some((a) => bare(a) === h);
}

type LookupCallback = (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;

function guardedLookup(allowHosts: readonly string[] | undefined) {
  return (host: string, options: LookupOptions, callback: LookupCallback): void => {
    dnsLookup(host, { ...options, all: true }, (err, addresses) => {
      if (err) return callback(err, '');
      if (!isAllowed(host, allowHosts)) {
        const bad = addresses.find((a) => isNonPublicAddress(a.address));
        if (bad) return callback(new InputFetchError('private-address', `${host} resolves to ${bad.address}, a loopback, private, link-local or reserved address`), '');
      }
      if (options.all) return callback(null, addresses);
      const first = addresses[0]!;
      callback(null, first.address, first.family);
    });
  };
}

async function checkTarget(url: URL, opts: FetchInputOptions): Promise<void> {
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new InputFetchError('scheme', `image URLs must use http or https, not ${url.protocol.replace(/:$/, '')}`);
  }
  if (url.username || url.password) throw new InputFetchError('credentials', 'image URLs must not carry a user name or password');
  if (isAllowed(url.hostname, opts.allowHosts)) return;
  const reason = await privateTargetReason(url, opts.resolve);
  if (reason) throw new InputFetchError('private-address', `refused to fetch ${url.host}: ${reason} (allow it with the local provider's allowHosts)`);
}

async function fetchUrl(raw: string, opts: FetchInputOptions): Promise<Buffer> {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new InputFetchError('scheme', 'the image URL does not parse');
  }
  const controller = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    controller.abort();
  }, opts.timeoutMs);
  const onAbort = () => controller.abort();
  opts.signal?.addEventListener('abort', onAbort, { once: true });
  const agent = new Agent({ connect: { lookup: guardedLookup(opts.allowHosts) as never, timeout: opts.timeoutMs } });
  try {
    for (let hop = 0; ; hop++) {
      await checkTarget(url, opts);
      const host = bare(url.hostname);
      if (isIP(host) && isNonPublicAddress(host) && !isAllowed(host, opts.allowHosts)) {
        throw new InputFetchError('private-address', `${host} is a loopback, private, link-local or reserved address`);
      }
      const res = await request(url, { method: 'GET', dispatcher: agent, signal: controller.signal, headersTimeout: 0, bodyTimeout: 0 });
      if (res.statusCode >= 300 && res.statusCode < 400 && res.headers.location) {
        await res.body.dump();
        if (hop >= (opts.maxRedirects ?? 3)) throw new InputFetchError('redirects', `more than ${opts.maxRedirects ?? 3} redirects`);
        url = new URL(String(res.headers.location), url);
        continue;
      }
      if (res.statusCode !== 200) {
        await res.body.dump();
        throw new InputFetchError('http-status', `fetching the image answered HTTP ${res.statusCode}`);
      }
      const declared = Number(res.headers['content-length']);
      if (Number.isFinite(declared) && declared > opts.maxBytes) {
        res.body.destroy();
        throw new InputFetchError('too-large', `the image is ${declared} bytes; the limit is ${opts.maxBytes}`);
      }
      const chunks: Buffer[] = [];
      let total = 0;
      for await (const chunk of res.body) {
        total += (chunk as Buffer).length;
        if (total > opts.maxBytes) {
          res.body.destroy();
          throw new InputFetchError('too-large', `the image exceeds the limit of ${opts.maxBytes} bytes`);
        }
        chunks.push(chunk as Buffer);
      }
      return Buffer.concat(chunks);
    }
  } catch (err) {
    if (err instanceof InputFetchError) throw err;
    const cause = (err as { cause?: unknown }).cause;
    if (cause instanceof InputFetchError) throw cause;
    if (timedOut) throw new InputFetchError('timeout', `fetching the image took longer than ${opts.timeoutMs} ms`);
    if (opts.signal?.aborted) throw err;
    throw new InputFetchError('network', `fetching the image failed: ${(err as Error).message}`);
  } finally {
    clearTimeout(timer);
    opts.signal?.removeEventListener('abort', onAbort);
    void agent.close().catch(() => undefined);
  }
}

/** The bytes of an image field: a URL (fetched under the rules above), a data: URI or base64. */
export async function fetchImageInput(value: string, options: Partial<FetchInputOptions> = {}): Promise<Buffer> {
  const opts: FetchInputOptions = { ...DEFAULT_FETCH_OPTIONS, ...options };
  const trimmed = value.trim();
  if (/^[a-z][a-z0-9+.-]*:/i.test(trimmed) && !/^data:/i.test(trimmed)) return fetchUrl(trimmed, opts);
  const check = checkImage(trimmed, opts.maxBytes);
  if (!check.ok) throw new InputFetchError(check.rule === 'max-bytes' ? 'too-large' : 'format', `the image ${check.message}`);
  const payload = /^data:/i.test(trimmed) ? trimmed.slice(trimmed.indexOf(',') + 1) : trimmed;
  return Buffer.from(payload.replace(/\s+/g, ''), 'base64');
}
