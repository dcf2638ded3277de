// The one way this service requests a URL it did not choose itself (local
// image inputs, webhook deliveries, upstream output downloads), so no API key
// can make it call loopback, metadata or private addresses (SSRF). Addresses
// are checked at connect time (which defeats DNS rebinding), redirects hop by
// hop, with one deadline and a byte cap (docs/ARCHITECTURE.md, "Outbound requests").
import { lookup as dnsLookup, type LookupAddress, type LookupOptions } from 'node:dns';
import { isIP } from 'node:net';
import { Agent, buildConnector, request, type Dispatcher } from 'undici';
import { deadline } from '../util/deadline.js';
import { isAllowed, bareHost, effectivePort, type AllowEntry } from './allow-list.js';
import { specialAddressReason } from './special-addresses.js';
import { credentialsViolation } from './url-credentials.js';

export interface OutboundPolicy {
  /** Origins (host:port) reachable whatever their address: the operator's own services. */
  allow?: readonly AllowEntry[];
  /** Reach any address (WEBHOOK_ALLOW_PRIVATE: trusted setups and tests). */
  anyAddress?: boolean;
  /** Appended to an address refusal: how an operator may allow such a target. */
  hint?: string;
}

export type OutboundRule = 'scheme' | 'credentials' | 'private-address' | 'too-large' | 'timeout' | 'redirects' | 'network';

/** Why an outbound request was refused or failed; `rule` is machine-readable. */
export class OutboundFetchError extends Error {
  override readonly name = 'OutboundFetchError';
  constructor(readonly rule: OutboundRule, message: string) {
    super(message);
  }
}

type LookupCallback = (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;
/** dns.lookup's callback form; tests pass their own to stand in for DNS. */
export type LookupFunction = (host: string, options: LookupOptions, callback: LookupCallback) => void;

const defaultLookup: LookupFunction = (host, options, callback) => dnsLookup(host, options, callback as never);

/** "10.0.0.1 is private-use (…)", or "x.example resolves to 10.0.0.1, which is private-use (…)". */
function addressRefusal(host: string, address: string, reason: string): string {
  return host === address ? `${host} is ${reason}` : `${host} resolves to ${address}, which is ${reason}`;
}

function refusal(host: string, address: string, reason: string, policy: OutboundPolicy): OutboundFetchError {
  return new OutboundFetchError('private-address', `refused: ${addressRefusal(host, address, reason)}${policy.hint ? `; ${policy.hint}` : ''}`);
}

/** A lookup that fails when any address the name resolves to is special-purpose. */
function publicOnlyLookup(lookup: LookupFunction, policy: OutboundPolicy): LookupFunction {
  return (host, options, callback) => {
    lookup(host, { ...options, all: true }, (err, found) => {
      if (err) return callback(err, '');
      const addresses = found as LookupAddress[];
      for (const a of addresses) {
        const reason = specialAddressReason(a.address);
        if (reason) return callback(refusal(host, a.address, reason, policy), '');
      }
      if (addresses.length === 0) return callback(Object.assign(new Error(`${host} did not resolve`), { code: 'ENOTFOUND' }), '');
      if (options.all) return callback(null, addresses);
      callback(null, addresses[0]!.address, addresses[0]!.family);
    });
  };
}

/** Connects allowed origins as they are, IP literals only when public, names only to public addresses. */
function guardedConnector(policy: OutboundPolicy, lookup: LookupFunction, timeoutMs: number): buildConnector.connector {
  const open = buildConnector({ timeout: timeoutMs, lookup: lookup as never });
  const checked = buildConnector({ timeout: timeoutMs, lookup: publicOnlyLookup(lookup, policy) as never });
  return (opts, callback) => {
    const host = bareHost(opts.hostname);
    const port = Number(opts.port) || (opts.protocol === 'https:' ? 443 : 80);
    if (policy.anyAddress || isAllowed(policy.allow, host, port)) return open(opts, callback);
    if (isIP(host)) {
      const reason = specialAddressReason(host);
      if (reason) return callback(refusal(host, host, reason, policy), null);
      return open(opts, callback);
    }
    return checked(opts, callback);
  };
}

export interface GuardedClientOptions {
  policy: OutboundPolicy;
  /** Stands in for DNS (tests); the system resolver otherwise. */
  lookup?: LookupFunction;
  /** Deadline of one TCP/TLS connect; default 10 s (each fetch has its own overall deadline too). */
  connectTimeoutMs?: number;
}

export interface GuardedRequest {
  method?: 'GET' | 'POST';
  headers?: Record<string, string>;
  body?: string;
  /** The caller's signal: when it fires, fetch rejects with its reason. */
  signal?: AbortSignal;
  /** One deadline for the whole fetch: every hop, and the body. */
  timeoutMs: number;
  /** The largest body read. */
  maxBytes: number;
  /** Past maxBytes: 'error' (OutboundFetchError too-large, the default) or 'truncate' (keep the first maxBytes). */
  overflow?: 'error' | 'truncate';
  /** 'follow' (the default; GET only) re-checks and follows up to maxRedirects hops; 'manual' answers with the 3xx. */
  redirect?: 'follow' | 'manual';
  maxRedirects?: number;
}

export interface GuardedResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
  /** True when overflow 'truncate' cut the body. */
  truncated: boolean;
  /** The URL that answered, after redirects. */
  url: string;
}

export const DEFAULT_MAX_REDIRECTS = 3;

/** The URL rules checked before each hop connects. */
function checkUrl(url: URL): void {
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new OutboundFetchError('scheme', `only http and https URLs are fetched, not ${url.protocol.replace(/:$/, '')}`);
  }
  if (credentialsViolation(url)) throw new OutboundFetchError('credentials', 'URLs with a user name or password (user:pass@) are not fetched');
}

async function readBody(body: Dispatcher.ResponseData['body'], declared: number, req: GuardedRequest): Promise<{ body: Buffer; truncated: boolean }> {
  const truncate = req.overflow === 'truncate';
  if (!truncate && Number.isFinite(declared) && declared > req.maxBytes) {
    body.destroy();
    throw new OutboundFetchError('too-large', `the body is ${declared} bytes; the limit is ${req.maxBytes}`);
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    const buf = chunk as Buffer;
    if (size + buf.length > req.maxBytes) {
      body.destroy(); // stop downloading what will not be kept
      if (!truncate) throw new OutboundFetchError('too-large', `the body exceeds the limit of ${req.maxBytes} bytes`);
      chunks.push(buf.subarray(0, req.maxBytes - size));
      return { body: Buffer.concat(chunks), truncated: true };
    }
    chunks.push(buf);
    size += buf.length;
  }
  return { body: Buffer.concat(chunks), truncated: false };
}

/** "CODE: message" of a transport error (undici puts the socket's error in `cause`). */
export function describeNetworkError(err: unknown): string {
  const e = err as { code?: string; message?: string; cause?: { code?: string; message?: string } };
  const code = e?.cause?.code ?? e?.code;
  const message = e?.cause?.message ?? e?.message ?? String(err);
  return code && !message.includes(code) ? `${code}: ${message}` : message;
}

/** An undici Agent that enforces a policy on every connection; keep one for many fetches, close it when done. */
export class GuardedClient {
  private readonly agent: Agent;

  constructor(readonly options: GuardedClientOptions) {
    this.agent = new Agent({
      connect: guardedConnector(options.policy, options.lookup ?? defaultLookup, options.connectTimeoutMs ?? 10_000),
      // The fetch's own deadline governs; undici's idle timers would only fire later with vaguer errors.
      headersTimeout: 0,
      bodyTimeout: 0,
    });
  }

  async fetch(raw: string, req: GuardedRequest): Promise<GuardedResponse> {
    req.signal?.throwIfAborted();
    const limit = deadline(req.timeoutMs, req.signal);
    const follow = req.redirect !== 'manual' && (req.method ?? 'GET') === 'GET';
    const maxRedirects = req.maxRedirects ?? DEFAULT_MAX_REDIRECTS;
    try {
      let url = parse(raw);
      for (let hop = 0; ; hop++) {
        checkUrl(url);
        const res = await request(url, {
          method: req.method ?? 'GET',
          headers: req.headers,
          body: req.body,
          dispatcher: this.agent,
          signal: limit.signal,
        });
        const location = res.headers.location;
        if (follow && res.statusCode >= 300 && res.statusCode < 400 && location) {
          await res.body.dump();
          if (hop >= maxRedirects) throw new OutboundFetchError('redirects', `more than ${maxRedirects} redirects`);
          url = parse(String(location), url);
          continue;
        }
        const { body, truncated } = await readBody(res.body, Number(res.headers['content-length']), req);
        return { status: res.statusCode, headers: res.headers, body, truncated, url: url.toString() };
      }
    } catch (err) {
      if (req.signal?.aborted) throw req.signal.reason ?? err;
      if (limit.timedOut) throw new OutboundFetchError('timeout', `no answer within ${req.timeoutMs} ms`);
      if (err instanceof OutboundFetchError) throw err;
      const cause = (err as { cause?: unknown }).cause;
      if (cause instanceof OutboundFetchError) throw cause;
      throw new OutboundFetchError('network', describeNetworkError(err));
    } finally {
      limit.dispose();
    }
  }

  close(): Promise<void> {
    return this.agent.close().catch(() => undefined);
  }
}

function parse(raw: string, base?: URL): URL {
  try {
    return new URL(raw, base);
  } catch {
    throw new OutboundFetchError('scheme', base ? 'a redirect named a URL that does not parse' : 'the URL does not parse');
  }
}

/** One fetch with a client of its own, closed afterwards. */
export async function guardedFetch(url: string, req: GuardedRequest & GuardedClientOptions): Promise<GuardedResponse> {
  const client = new GuardedClient(req);
  try {
    return await client.fetch(url, req);
  } finally {
    void client.close();
  }
}

/** Names that mean this machine whatever DNS says (RFC 6761). */
function isLocalName(host: string): boolean {
  return host === 'localhost' || host.endsWith('.localhost') || host === 'localhost.localdomain';
}

/** Resolves every address of a name; a resolver that hangs counts as none. */
export async function resolveAll(host: string, lookup: LookupFunction = defaultLookup, timeoutMs = 2000): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('dns timeout')), timeoutMs);
    timer.unref();
    lookup(host, { all: true, verbatim: true } as LookupOptions, (err, found) => {
      clearTimeout(timer);
      if (err) reject(err);
      else resolve((found as LookupAddress[]).map((a) => a.address));
    });
  });
}

/**
 * The address rule for a URL before anything is stored (a webhook endpoint
 * being registered): the reason it would be refused, else null. A name that
 * does not resolve now passes here; the connection is checked again anyway.
 */
export async function targetRefusal(url: URL, policy: OutboundPolicy, lookup?: LookupFunction): Promise<string | null> {
  const host = bareHost(url.hostname);
  if (policy.anyAddress || isAllowed(policy.allow, host, effectivePort(url))) return null;
  if (isIP(host)) {
    const reason = specialAddressReason(host);
    return reason ? addressRefusal(host, host, reason) : null;
  }
  if (isLocalName(host)) return `${host} names this machine`;
  let addresses: string[];
  try {
    addresses = await resolveAll(host, lookup);
  } catch {
    return null;
  }
  for (const address of addresses) {
    const reason = specialAddressReason(address);
    if (reason) return addressRefusal(host, address, reason);
  }
  return null;
}
