// Turning an image field into bytes: an http(s) URL is fetched, a data: URI
// or plain base64 is decoded. Fetching a URL is a request this server makes
// on a client's behalf, so it goes through the guarded fetch (src/net): no
// special-purpose addresses (loopback, private, link-local, …) at connect
// time and on every redirect hop, except origins (host:port) on `allowHosts`,
// for operators who serve inputs from their own network. Bodies are capped
// in bytes and the whole fetch, redirects included, in time.
import { checkImage } from '../models/image-input.js';
import type { AllowEntry } from './allow-list.js';
import { guardedFetch, OutboundFetchError, type LookupFunction, type OutboundRule } from './guarded-fetch.js';

export interface FetchInputOptions {
  /** Largest image accepted, in bytes (fetched or decoded). */
  maxBytes: number;
  /** Deadline for one URL fetch, redirects and body included. */
  timeoutMs: number;
  /** Origins (host and port) that may be private or loopback: LOCAL_FETCH_ALLOW_HOSTS. */
  allowHosts?: readonly AllowEntry[];
  /** Redirect hops followed, each re-checked. Default 3. */
  maxRedirects?: number;
  signal?: AbortSignal;
  /** Stands in for DNS (tests); the system resolver otherwise. */
  lookup?: LookupFunction;
}

export const DEFAULT_FETCH_OPTIONS: FetchInputOptions = { maxBytes: 15 * 1024 * 1024, timeoutMs: 15_000, maxRedirects: 3 };

export type InputRule = OutboundRule | 'http-status' | 'format';

/** Why an input could not be turned into bytes; the job fails INVALID_INPUT with this message. */
export class InputFetchError extends Error {
  override readonly name = 'InputFetchError';
  readonly code = 'INVALID_INPUT' as const;
  constructor(readonly rule: InputRule, message: string) {
    super(message);
  }
}

const HINT = 'LOCAL_FETCH_ALLOW_HOSTS=host:port exempts an origin of your own';

async function fetchUrl(url: string, opts: FetchInputOptions): Promise<Buffer> {
  try {
    const res = await guardedFetch(url, {
      policy: { allow: opts.allowHosts, hint: HINT },
      lookup: opts.lookup,
      signal: opts.signal,
      timeoutMs: opts.timeoutMs,
      maxBytes: opts.maxBytes,
      maxRedirects: opts.maxRedirects,
    });
    if (res.status !== 200) throw new InputFetchError('http-status', `fetching the image answered HTTP ${res.status}`);
    return res.body;
  } catch (err) {
    if (err instanceof OutboundFetchError) throw new InputFetchError(err.rule, `fetching the image: ${err.message}`);
    throw err;
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
