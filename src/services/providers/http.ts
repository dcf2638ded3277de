// HTTP plumbing shared by upstream providers: one call with a deadline and a
// body cap, and the mapping of upstream HTTP statuses onto job outcomes.

import { request, type Dispatcher } from 'undici';
import { describeNetworkError } from '../../net/guarded-fetch.js';
import { deadline } from '../../util/deadline.js';
import type { FailedOutcome, FailureCode, RetryOutcome } from './types.js';

export type { FailedOutcome, RetryOutcome };

export type Headers = Record<string, string | string[] | undefined>;

export interface HttpCall {
  method: 'GET' | 'POST';
  url: string;
  headers?: Record<string, string>;
  body?: string;
  /** The caller's signal: when it fires the call rejects with its reason. */
  signal: AbortSignal;
  timeoutMs: number;
  /** Bytes kept from the body; the rest is not read. */
  maxBytes: number;
  dispatcher?: Dispatcher;
}

export type HttpResult =
  | { kind: 'response'; status: number; headers: Headers; body: Buffer; truncated: boolean }
  /**
   * No usable answer: connection refused or reset, DNS, timeout. `maySent`
   * is false only when the request provably never reached the server.
   */
  | { kind: 'network'; reason: string; timedOut: boolean; maySent: boolean };

/** How much of an error body is kept in messages and details. */
export const ERROR_BODY_LIMIT = 2048;

export async function httpCall(call: HttpCall): Promise<HttpResult> {
  call.signal.throwIfAborted();
  const limit = deadline(call.timeoutMs, call.signal);
  const signal = limit.signal;
  try {
    const res = await request(call.url, {
      method: call.method,
      headers: call.headers,
      body: call.body,
      signal,
      dispatcher: call.dispatcher,
      // Our own deadline governs; undici's idle timers would only fire later with vaguer errors.
      headersTimeout: 0,
      bodyTimeout: 0,
    });
    const { body, truncated } = await readCapped(res.body, call.maxBytes);
    return { kind: 'response', status: res.statusCode, headers: res.headers, body, truncated };
  } catch (err) {
    if (call.signal.aborted) throw call.signal.reason ?? err;
    if (limit.timedOut) return { kind: 'network', reason: `no answer within ${call.timeoutMs} ms`, timedOut: true, maySent: true };
    return { kind: 'network', reason: describeNetworkError(err), timedOut: false, maySent: !neverSent(err) };
  } finally {
    limit.dispose();
  }
}

async function readCapped(body: Dispatcher.ResponseData['body'], maxBytes: number): Promise<{ body: Buffer; truncated: boolean }> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    const buf = chunk as Buffer;
    if (size + buf.length > maxBytes) {
      chunks.push(buf.subarray(0, maxBytes - size));
      body.destroy(); // stop downloading what we will not keep
      return { body: Buffer.concat(chunks), truncated: true };
    }
    chunks.push(buf);
    size += buf.length;
  }
  return { body: Buffer.concat(chunks), truncated: false };
}

/** Errors raised before a connection carried the request: nothing can have been processed. */
const NOT_SENT_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'UND_ERR_CONNECT_TIMEOUT']);

function neverSent(err: unknown): boolean {
  const e = err as { code?: string; cause?: { code?: string } };
  return NOT_SENT_CODES.has(e?.code ?? '') || NOT_SENT_CODES.has(e?.cause?.code ?? '');
}


export function header(headers: Headers, name: string): string | undefined {
  const value = headers[name.toLowerCase()];
  return Array.isArray(value) ? value[0] : value;
}

/** Retry-After as delta-seconds or an HTTP-date, in milliseconds from now. */
export function parseRetryAfter(value: string | undefined, now = Date.now()): number | undefined {
  if (!value) return undefined;
  const trimmed = value.trim();
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Math.round(Number(trimmed) * 1000);
  const at = Date.parse(trimmed);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/** The vendor's body as text, cut to a size fit for a job row. */
export function bodySnippet(body: Buffer): string {
  const text = body.subarray(0, ERROR_BODY_LIMIT + 4).toString('utf8');
  return text.length > ERROR_BODY_LIMIT ? `${text.slice(0, ERROR_BODY_LIMIT)}…` : text;
}

/** The JSON body when there is one, else the (cut) text. */
export function bodyDetail(body: Buffer): unknown {
  if (body.length <= ERROR_BODY_LIMIT) {
    try {
      return JSON.parse(body.toString('utf8'));
    } catch {
      // not JSON: fall through to the text
    }
  }
  return bodySnippet(body);
}

/** The human part of a vendor error body ({error}, {detail}, {message}, or the text). */
export function errorText(body: Buffer): string {
  const detail = bodyDetail(body);
  if (detail && typeof detail === 'object') {
    const d = detail as Record<string, unknown>;
    for (const key of ['error', 'detail', 'message']) {
      const v = d[key];
      if (typeof v === 'string' && v) return v;
      if (v !== undefined && v !== null) return JSON.stringify(v).slice(0, ERROR_BODY_LIMIT);
    }
  }
  return typeof detail === 'string' ? markupText(detail) : markupText(bodySnippet(body));
}

/**
 * The words of an HTML or XML error page (a CDN's 403, S3's <Error>), tags
 * dropped and whitespace collapsed; other text as it is.
 */
function markupText(text: string): string {
  if (!/^\s*</.test(text)) return text;
  const words = text
    .replace(/<(script|style)[^>]*>[\s\S]*?<\/\1>/gi, ' ')
    .replace(/<[^>]*>/g, ' ')
    .replace(/&nbsp;/g, ' ')
    .replace(/\s+/g, ' ')
    .trim();
  return words || text.trim();
}

// "content" alone is too broad ("could not read image content"), so it counts
// only next to a word that says the content was refused.
const CONTENT_BLOCK =
  /\b(rai|nsfw|safety|unsafe|moderation|inappropriate)\b|\bcontent\b[^.]*\b(block|filter|flag|polic|violat|moderat|reject)/i;

/** A failed generation: a content block when the vendor's words say so. */
export function generationFailed(detailText: string, httpStatus?: number, detail?: unknown): FailedOutcome {
  const blocked = CONTENT_BLOCK.test(detailText);
  return {
    kind: 'failed',
    code: blocked ? 'CONTENT_BLOCKED' : 'UPSTREAM_ERROR',
    message: `${blocked ? 'blocked by the upstream' : 'the upstream failed the request'}: ${detailText || 'no detail given'}`,
    httpStatus,
    detail: detail ?? detailText,
  };
}

export type Phase = 'submit' | 'poll' | 'download';

/**
 * An unsuccessful HTTP answer as a job outcome. A 404 means a different
 * thing per phase: at submit the model (endpoint) is missing, while polling
 * or downloading it means the request or its output expired.
 */
export function outcomeForStatus(status: number, headers: Headers, body: Buffer, phase: Phase): FailedOutcome | RetryOutcome {
  const text = errorText(body);
  const detail = bodyDetail(body);
  const failed = (code: FailureCode, what: string): FailedOutcome => ({
    kind: 'failed',
    code,
    message: `Segmind ${status} (${what}): ${text}`,
    httpStatus: status,
    detail,
  });
  // A gateway timeout on a submit means the request reached the upstream, which
  // may still run (and bill) it: sending it again could pay twice.
  if (phase === 'submit' && status === 504) {
    return failed('UPSTREAM_OUTCOME_UNKNOWN', 'gateway timeout after the request was received; not resent');
  }
  if (status === 408 || status === 425 || status === 429 || status >= 500) {
    return {
      kind: 'retry',
      reason: `Segmind ${status} during ${phase}: ${text}`,
      retryAfterMs: parseRetryAfter(header(headers, 'retry-after')),
      httpStatus: status,
      // A submission refused before the upstream took it (504 was handled above): nothing ran.
      ...(phase === 'submit' ? { refusal: status === 429 ? 'RATE_LIMITED' as const : 'UPSTREAM_UNAVAILABLE' as const } : {}),
    };
  }
  if (phase === 'download' && [401, 403, 404, 410].includes(status)) return failed('EXPIRED', 'output no longer available');
  if (phase === 'poll' && (status === 404 || status === 410)) return failed('EXPIRED', 'request unknown or expired');
  switch (status) {
    case 400:
      return failed('INVALID_INPUT', 'bad request');
    case 401:
      return failed('UNAUTHORIZED', 'missing or invalid API key');
    case 403:
      return failed('FORBIDDEN', 'forbidden');
    case 404:
      return failed('MODEL_NOT_FOUND', 'model or endpoint not found');
    case 406:
      return failed('INSUFFICIENT_CREDITS', 'insufficient credits');
    case 422:
      return generationFailed(text, status, detail);
    default:
      return failed('UPSTREAM_ERROR', 'unexpected status');
  }
}
