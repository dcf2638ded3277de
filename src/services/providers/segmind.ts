// The Segmind upstream, for the three ways its models run (see Protocol in
// src/models/types.ts): v1 answers with the image, the v2 queue and the
// workflows answer with a handle that is polled.

import { createHash } from 'node:crypto';
import type { Dispatcher } from 'undici';
import { modelSpec } from '../../models/registry.js';
import type { ModelSpec } from '../../models/types.js';
import { allowEntryOf } from '../../net/allow-list.js';
import { GuardedClient, OutboundFetchError, type GuardedResponse } from '../../net/guarded-fetch.js';
import {
  generationFailed,
  header,
  httpCall,
  outcomeForStatus,
  errorText,
  bodyDetail,
  type FailedOutcome,
  type HttpResult,
  type Phase,
  type RetryOutcome,
} from './http.js';
import {
  decodeBase64Image,
  decodedImageType,
  findImageUrl,
  findInlineImage,
  isHttpUrl,
  sniffImageType,
  parseJson,
  withoutLargeValues,
} from './segmind-output.js';
import type { PollOutcome, ProviderJob, ProviderOutput, SubmitOutcome, UpstreamProvider } from './types.js';
import { isImageRef } from '../../models/image-ref.js';
import { observeUpstreamCall, type UpstreamCallInfo } from './upstream-telemetry.js';

/** What a call is, for its log line, metrics and span: a path template, never the URL. */
type CallWhat = { endpoint: string; phase: UpstreamCallInfo['phase']; job?: ProviderJob };

export interface SegmindProviderOptions {
  /** e.g. https://api.segmind.com, or the emulator's URL. */
  baseUrl: string;
  apiKey: string;
  /** Deadline of a v1 call and of an output download; default 120 s (faceswap-comic takes ~21 s). */
  requestTimeoutMs?: number;
  /** Deadline of async submits and polls, which answer at once; default 30 s. */
  pollTimeoutMs?: number;
  /** Largest image accepted; default 50 MB. */
  maxOutputBytes?: number;
  /**
   * How long after acceptance a v2 request that answers 404 is taken as not
   * visible yet (the queue's read side lags its write side) and polled again;
   * default 30 s.
   */
  visibilityGraceMs?: number;
  dispatcher?: Dispatcher;
}

type Failed = FailedOutcome;
type Completed = { kind: 'completed'; output: ProviderOutput };
type Pending = { kind: 'pending'; upstreamStatus: 'QUEUED' | 'PROCESSING' };

/** JSON answers (handles, statuses, errors) are small; images are capped separately. */
const JSON_LIMIT = 1024 * 1024;
const MAX_REDIRECTS = 5;

/**
 * The request body: the job's params with each stored image as base64 of its
 * bytes, the form Segmind documents for inline images ("URL or base64").
 */
export function wireBody(job: ProviderJob): Record<string, unknown> {
  const body: Record<string, unknown> = {};
  for (const [wire, value] of Object.entries(job.params)) {
    if (!isImageRef(value)) {
      body[wire] = value;
      continue;
    }
    const image = job.images?.[wire];
    // The worker loads every stored image before a submit (services/input-artifacts.ts).
    if (!image) throw new Error(`the bytes of the input image ${wire} were not loaded`);
    body[wire] = image.bytes.toString('base64');
  }
  return body;
}

export function createSegmindProvider(opts: SegmindProviderOptions): UpstreamProvider {
  const baseUrl = opts.baseUrl.replace(/\/+$/, '');
  const requestTimeoutMs = opts.requestTimeoutMs ?? 120_000;
  const pollTimeoutMs = opts.pollTimeoutMs ?? 30_000;
  const maxOutputBytes = opts.maxOutputBytes ?? 50 * 1024 * 1024;
  const visibilityGraceMs = opts.visibilityGraceMs ?? 30_000;
  const upstreamOrigin = new URL(baseUrl).origin;
  // Output URLs come from the upstream's answers and may name any host, so they
  // are fetched under the outbound rules (src/net/guarded-fetch.ts). The
  // upstream's own origin (host:port of the base URL) is allowed whatever its
  // address: the operator chose it, it already receives the key and every job,
  // and the emulator serves its outputs there on loopback. Any other origin,
  // another port of the same host included, must be public.
  const downloads = new GuardedClient({
    policy: { allow: [allowEntryOf(new URL(baseUrl))], hint: 'only the upstream base URL\'s own host:port may be private' },
  });
  const keyHeader = { 'x-api-key': opts.apiKey };
  const bearerHeader = { authorization: `Bearer ${opts.apiKey}` };

  function call(method: 'GET' | 'POST', url: string, headers: Record<string, string>, signal: AbortSignal, what: CallWhat, extra: {
    body?: unknown;
    timeoutMs?: number;
    maxBytes?: number;
  } = {}): Promise<HttpResult> {
    const json = extra.body !== undefined;
    const info: UpstreamCallInfo = { method, endpoint: what.endpoint, phase: what.phase, model: what.job?.model, jobId: what.job?.id, attempt: what.job?.attempt };
    return observeUpstreamCall(info, () => httpCall({
      method,
      url,
      headers: { accept: '*/*', ...(json ? { 'content-type': 'application/json' } : {}), ...headers },
      body: json ? JSON.stringify(extra.body) : undefined,
      signal,
      timeoutMs: extra.timeoutMs ?? pollTimeoutMs,
      maxBytes: extra.maxBytes ?? JSON_LIMIT,
      dispatcher: opts.dispatcher,
    }), (res) => (res.kind === 'response' ? res.status : null));
  }

  // ---- sync (v1) ----

  async function submitSync(spec: ModelSpec, job: ProviderJob, signal: AbortSignal): Promise<SubmitOutcome> {
    const res = await call('POST', baseUrl + spec.endpoint, keyHeader, signal, { endpoint: spec.endpoint, phase: 'submit', job }, {
      body: wireBody(job),
      timeoutMs: requestTimeoutMs,
      maxBytes: maxOutputBytes + 1,
    });
    if (res.kind === 'network') return networkRetry(res, 'submit');
    if (res.status < 200 || res.status >= 300) return outcomeForStatus(res.status, res.headers, res.body, 'submit');
    // Answered 2xx: the vendor ran the swap and billed it, whatever the body turns out to be.
    if (res.body.length > maxOutputBytes) return tooLarge();

    const contentType = header(res.headers, 'content-type');
    const upstream: Record<string, unknown> = { httpStatus: res.status, contentType: contentType ?? null, ...vendorHeaders(res.headers) };
    // The bytes decide, not the Content-Type: `image/png` over a JSON, HTML or XML body is no image.
    if (sniffImageType(res.body)) return verified(res.body, res.status, { ...upstream, encoding: 'binary' });

    // base64 mode: JSON {image}, a JSON string, or plain text.
    const parsed = parseJson(res.body);
    const inline = parsed !== undefined ? findInlineImage(parsed) : decodeBase64Image(res.body.toString('utf8'));
    if (inline) return verified(inline.bytes, res.status, { ...upstream, encoding: 'base64' });
    const url = parsed !== undefined ? findImageUrl(parsed) : null;
    if (url) {
      const outcome = await download(url, signal, { ...upstream, ...(asRecord(withoutLargeValues(parsed)) ?? {}) }, job);
      return outcome.kind === 'failed' && outcome.code === 'EXPIRED' ? { ...outcome, code: 'UPSTREAM_ERROR' } : outcome;
    }
    return notAnImage(res.body, res.status, contentType);
  }

  // ---- queue (v2) ----

  /** POSTs an async submission; its JSON answer, or the outcome when there is none to read. */
  async function postSubmission(
    spec: ModelSpec,
    job: ProviderJob,
    auth: Record<string, string>,
    signal: AbortSignal,
  ): Promise<{ body: Record<string, unknown> | undefined; raw: Buffer } | { outcome: SubmitOutcome }> {
    const res = await call('POST', baseUrl + spec.endpoint, auth, signal, { endpoint: spec.endpoint, phase: 'submit', job }, { body: wireBody(job) });
    if (res.kind === 'network') return { outcome: networkRetry(res, 'submit') };
    if (res.status < 200 || res.status >= 300) return { outcome: outcomeForStatus(res.status, res.headers, res.body, 'submit') };
    return { body: asRecord(parseJson(res.body)), raw: res.body };
  }

  async function submitQueue(spec: ModelSpec, job: ProviderJob, signal: AbortSignal): Promise<SubmitOutcome> {
    const res = await postSubmission(spec, job, keyHeader, signal);
    if ('outcome' in res) return res.outcome;
    const { body } = res;
    const requestId = body?.request_id;
    if (typeof requestId !== 'string' || !requestId) return unknownOutcome('the queue answered without a request_id', res.raw);
    return {
      kind: 'accepted',
      requestId,
      // The URLs the answer names, when it names them (`poll_url` is another name for the status URL).
      pollUrl: onUpstreamOrigin(body?.status_url) ?? onUpstreamOrigin(body?.poll_url),
      resultUrl: onUpstreamOrigin(body?.response_url),
      upstream: body ?? {},
    };
  }

  /**
   * A URL from an upstream answer, when it is on the configured upstream's own
   * origin (scheme, host and port of SEGMIND_BASE_URL); else null, and the
   * documented path is used instead. Polls carry the API key, so a URL
   * elsewhere (another host, port or scheme) is never called: an answer must
   * not be able to send the key anywhere (test/upstream-answers.test.ts).
   */
  function onUpstreamOrigin(value: unknown): string | null {
    if (!isHttpUrl(value)) return null;
    try {
      const url = new URL(value.trim());
      return url.origin === upstreamOrigin ? url.href : null;
    } catch {
      return null;
    }
  }

  /**
   * A 404 for a request the upstream accepted. Within the visibility grace it
   * is not visible yet (the queue's read side lags its write side): polled
   * again. After it, "unknown or expired" as the docs say (EXPIRED), of a run
   * the vendor accepted and billed.
   */
  function unknownRequest(job: ProviderJob, res: HttpResult): PollOutcome | null {
    if (res.kind !== 'response' || res.status !== 404 || !job.acceptedAt) return null;
    if (Date.now() - job.acceptedAt.getTime() < visibilityGraceMs) return { kind: 'pending', upstreamStatus: 'QUEUED' };
    const expired = outcomeForStatus(404, res.headers, res.body, 'poll');
    return expired.kind === 'failed' ? { ...expired, billed: true } : expired;
  }

  async function pollQueue(job: ProviderJob, signal: AbortSignal): Promise<PollOutcome> {
    if (!job.upstreamRequestId) return missingHandle('request id');
    const base = `${baseUrl}/v2/requests/${encodeURIComponent(job.upstreamRequestId)}`;
    // The URLs the submit answer named, checked again (a stored URL may predate a change of SEGMIND_BASE_URL); else the documented paths.
    const statusUrl = onUpstreamOrigin(job.upstreamPollUrl) ?? `${base}/status`;
    const resultUrl = onUpstreamOrigin(job.upstreamResultUrl) ?? base;

    const statusRes = await call('GET', statusUrl, keyHeader, signal, { endpoint: '/v2/requests/:id/status', phase: 'poll', job });
    const notVisible = unknownRequest(job, statusRes);
    if (notVisible) return notVisible;
    const status = readStatus(statusRes, 'poll');
    if (status.kind !== 'status') return status.outcome;
    if (status.value !== 'COMPLETED') return pendingOrFailed(status.value, status.body);

    // The status said done; the result body carries the output.
    const resultRes = await call('GET', resultUrl, keyHeader, signal, { endpoint: '/v2/requests/:id', phase: 'poll', job });
    if (resultRes.kind === 'response' && resultRes.status === 202) return { kind: 'pending', upstreamStatus: 'PROCESSING' };
    const resultNotVisible = unknownRequest(job, resultRes);
    if (resultNotVisible) return resultNotVisible;
    const result = readStatus(resultRes, 'poll');
    if (result.kind !== 'status') return result.outcome;
    if (result.value !== 'COMPLETED') return pendingOrFailed(result.value, result.body);

    const output = result.body.output;
    const upstream = asRecord(withoutLargeValues(result.body)) ?? {};
    if (isHttpUrl(output)) return download(output.trim(), signal, upstream, job);
    const inline = typeof output === 'string' ? decodeBase64Image(output) : findInlineImage(output);
    if (inline) return verified(inline.bytes, 200, upstream);
    const url = findImageUrl(output);
    if (url) return download(url, signal, upstream, job);
    return { kind: 'failed', code: 'UPSTREAM_ERROR', message: 'the completed request has no image output', detail: upstream, billed: true };
  }

  // ---- workflow ----

  async function submitWorkflow(spec: ModelSpec, job: ProviderJob, signal: AbortSignal): Promise<SubmitOutcome> {
    const res = await postSubmission(spec, job, bearerHeader, signal);
    if ('outcome' in res) return res.outcome;
    const { body } = res;
    const pollUrl = body?.poll_url;
    if (!isHttpUrl(pollUrl)) return unknownOutcome('the workflow answered without a poll_url', res.raw);
    const requestId = typeof body?.request_id === 'string' && body.request_id ? body.request_id : lastSegment(pollUrl);
    return { kind: 'accepted', requestId, pollUrl, upstream: body ?? {} };
  }

  async function pollWorkflow(job: ProviderJob, signal: AbortSignal): Promise<PollOutcome> {
    if (!job.upstreamPollUrl) return missingHandle('poll_url');
    // The poll URL comes from the upstream's answer; the key only goes to the upstream's own hosts.
    if (!trustedHost(job.upstreamPollUrl)) {
      return { kind: 'failed', code: 'UPSTREAM_ERROR', message: `refusing to send the API key to ${safeOrigin(job.upstreamPollUrl)}` };
    }
    const res = await call('GET', job.upstreamPollUrl, bearerHeader, signal, { endpoint: 'poll_url', phase: 'poll', job });
    const notVisible = unknownRequest(job, res);
    if (notVisible) return notVisible;
    const status = readStatus(res, 'poll');
    if (status.kind !== 'status') return status.outcome;
    if (status.value !== 'COMPLETED') return pendingOrFailed(status.value, status.body);

    // `output` is a JSON document serialised as a string.
    const rawOutput = status.body.output;
    let outputs: unknown = rawOutput;
    if (typeof rawOutput === 'string') {
      try {
        outputs = JSON.parse(rawOutput);
      } catch {
        outputs = rawOutput;
      }
    }
    const upstream = { ...(asRecord(withoutLargeValues({ ...status.body, output: undefined })) ?? {}), outputs: withoutLargeValues(outputs) };
    const url = findImageUrl(outputs);
    if (url) return download(url, signal, upstream, job);
    const inline = findInlineImage(outputs);
    if (inline) return verified(inline.bytes, 200, upstream);
    return { kind: 'failed', code: 'UPSTREAM_ERROR', message: 'the completed workflow has no image output', detail: upstream, billed: true };
  }

  // ---- shared ----

  /**
   * GETs the output image. No credentials: media URLs are public and may live
   * on another host. Only called once the upstream said the run completed, so
   * every failure here is of a run the vendor billed (`billed`).
   */
  async function download(url: string, signal: AbortSignal, upstream: Record<string, unknown>, job: ProviderJob): Promise<Completed | Failed | RetryOutcome> {
    let res: GuardedResponse;
    try {
      res = await observeUpstreamCall(
        { method: 'GET', endpoint: 'output', phase: 'download', model: job.model, jobId: job.id, attempt: job.attempt },
        () => downloads.fetch(url, { signal, timeoutMs: requestTimeoutMs, maxBytes: maxOutputBytes, maxRedirects: MAX_REDIRECTS }),
        (r) => r.status,
      );
    } catch (err) {
      if (!(err instanceof OutboundFetchError)) throw err;
      if (err.rule === 'timeout' || err.rule === 'network') return { kind: 'retry', reason: `${err.rule === 'timeout' ? 'timeout' : 'network error'} during download: ${err.message}` };
      if (err.rule === 'too-large') return tooLarge();
      return { kind: 'failed', code: 'UPSTREAM_ERROR', message: `refused to download the output from ${safeOrigin(url)}: ${err.message}`, detail: { rule: err.rule }, billed: true };
    }
    if (res.status < 200 || res.status >= 300) {
      const outcome = outcomeForStatus(res.status, res.headers, res.body, 'download');
      return outcome.kind === 'failed' ? { ...outcome, billed: true } : outcome;
    }
    return verified(res.body, res.status, { ...upstream, outputUrl: url }, header(res.headers, 'content-type'));
  }

  function trustedHost(url: string): boolean {
    try {
      const base = new URL(baseUrl).hostname;
      const host = new URL(url).hostname;
      if (host === base) return true;
      const labels = base.split('.');
      const isName = labels.length >= 2 && !/^[\d.]+$/.test(base) && !base.includes(':');
      return isName && host.endsWith(`.${labels.slice(-2).join('.')}`);
    } catch {
      return false;
    }
  }

  return {
    name: 'segmind',
    // One account per key and upstream: credit readings are throttled per account (credit-readings.ts).
    account: `segmind:${createHash('sha256').update(`${baseUrl}\n${opts.apiKey}`).digest('hex').slice(0, 32)}`,

    async readCredits(signal) {
      const res = await call('GET', `${baseUrl}/v1/get-user-credits`, keyHeader, signal, { endpoint: '/v1/get-user-credits', phase: 'credits' });
      if (res.kind !== 'response' || res.status !== 200) return null;
      return creditsReading(parseJson(res.body));
    },

    async submit(job, signal) {
      signal.throwIfAborted();
      const spec = specOf(job);
      if (!spec) return { kind: 'failed', code: 'MODEL_NOT_FOUND', message: `unknown model ${job.model}` };
      switch (spec.protocol) {
        case 'sync':
          return submitSync(spec, job, signal);
        case 'queue':
          return submitQueue(spec, job, signal);
        case 'workflow':
          return submitWorkflow(spec, job, signal);
      }
    },

    async poll(job, signal) {
      signal.throwIfAborted();
      const spec = specOf(job);
      if (!spec) return { kind: 'failed', code: 'MODEL_NOT_FOUND', message: `unknown model ${job.model}` };
      switch (spec.protocol) {
        case 'queue':
          return pollQueue(job, signal);
        case 'workflow':
          return pollWorkflow(job, signal);
        case 'sync':
          return { kind: 'failed', code: 'UPSTREAM_ERROR', message: `${spec.slug} is synchronous and has nothing to poll` };
      }
    },
  };
}

type StatusRead =
  | { kind: 'status'; value: string; body: Record<string, unknown> }
  | { kind: 'outcome'; outcome: Failed | RetryOutcome };

/** A status or result answer: HTTP errors mapped, 422 read as a FAILED generation. */
function readStatus(res: HttpResult, phase: Phase): StatusRead {
  if (res.kind === 'network') return { kind: 'outcome', outcome: networkRetry(res, phase) };
  if (res.status === 422) return { kind: 'outcome', outcome: generationFailed(errorText(res.body), 422, bodyDetail(res.body)) };
  if (res.status < 200 || res.status >= 300) return { kind: 'outcome', outcome: outcomeForStatus(res.status, res.headers, res.body, phase) };
  const body = asRecord(parseJson(res.body));
  const value = typeof body?.status === 'string' ? body.status.toUpperCase() : undefined;
  if (!body || !value) {
    return { kind: 'outcome', outcome: { kind: 'retry', reason: `unreadable status answer: ${errorText(res.body)}`, httpStatus: res.status } };
  }
  return { kind: 'status', value, body };
}

function pendingOrFailed(status: string, body: Record<string, unknown>): Pending | Failed {
  if (status === 'FAILED' || status === 'ERROR' || status === 'CANCELLED') {
    const detail = typeof body.error === 'string' ? body.error : JSON.stringify(withoutLargeValues(body.error ?? body));
    return generationFailed(detail, undefined, withoutLargeValues(body));
  }
  // Unknown in-between states are treated as still running; the worker's deadline bounds the wait.
  return { kind: 'pending', upstreamStatus: status === 'QUEUED' ? 'QUEUED' : 'PROCESSING' };
}

/**
 * A call without an answer. Polls and downloads are repeated freely; a submit
 * only when it provably never reached the upstream, since one that did may
 * be running (and billed) there already.
 */
function networkRetry(res: Extract<HttpResult, { kind: 'network' }>, phase: Phase): RetryOutcome | Failed {
  const what = `${res.timedOut ? 'timeout' : 'network error'} during ${phase}: ${res.reason}`;
  if (phase === 'submit' && res.maySent) {
    return { kind: 'failed', code: 'UPSTREAM_OUTCOME_UNKNOWN', message: `${what}; the request may have reached the upstream, so it was not resent — rerun the job` };
  }
  // A submit that provably never arrived ran nothing: for the deadline it counts as refused.
  return phase === 'submit' ? { kind: 'retry', reason: what, refusal: 'UPSTREAM_UNAVAILABLE' } : { kind: 'retry', reason: what };
}

/** {"credits": 12.5, "free-credits": 0.0184921035} → micro-dollars of both; null when the answer has neither. */
export function creditsReading(body: unknown): bigint | null {
  const record = asRecord(body);
  const paid = record?.credits;
  const free = record?.['free-credits'];
  if (typeof paid !== 'number' && typeof free !== 'number') return null;
  // Readings are the vendor's floats, rounded to the micro: a reconciliation figure, not money we add up.
  const micros = (value: unknown) => (typeof value === 'number' && Number.isFinite(value) ? BigInt(Math.round(value * 1_000_000)) : 0n);
  return micros(paid) + micros(free);
}

function completed(bytes: Buffer, mimeType: string, upstream: Record<string, unknown>): Completed {
  return { kind: 'completed', output: { bytes, mimeType, upstream } };
}

/** The output when its bytes decode as an image (decodedImageType); else the failure of a billed run. */
async function verified(bytes: Buffer, httpStatus: number, upstream: Record<string, unknown>, contentType?: string): Promise<Completed | Failed> {
  const mimeType = await decodedImageType(bytes);
  return mimeType ? completed(bytes, mimeType, upstream) : notAnImage(bytes, httpStatus, contentType ?? (upstream.contentType as string | undefined));
}

/** Longest vendor text kept in a failure message. */
const VENDOR_TEXT_LIMIT = 300;

/** A 2xx that carried no image: the vendor's own words (bounded), never our internals. */
function notAnImage(body: Buffer, httpStatus: number, contentType?: string | null): Failed {
  const declared = contentType ? ` (content-type ${contentType.split(';')[0]!.trim().slice(0, 60)})` : '';
  let what: string;
  if (body.length === 0) what = 'an empty body';
  else if (sniffImageType(body)) what = `${body.length} bytes that start like an image but do not decode (cut off or corrupt)`;
  else if (looksBinary(body)) what = `${body.length} bytes of binary data that are no image`;
  else {
    const text = errorText(body).replace(/\s+/g, ' ').trim();
    what = `no image but: ${text.length > VENDOR_TEXT_LIMIT ? `${text.slice(0, VENDOR_TEXT_LIMIT)}…` : text}`;
  }
  return {
    kind: 'failed',
    code: 'UPSTREAM_ERROR',
    message: `the upstream answered ${httpStatus}${declared} with ${what}`,
    httpStatus,
    billed: true,
  };
}

function looksBinary(body: Buffer): boolean {
  const head = body.subarray(0, 512);
  let control = 0;
  for (const byte of head) if (byte === 0 || (byte < 9) || (byte > 13 && byte < 32)) control += 1;
  return control > head.length / 20;
}

function tooLarge(): Failed {
  return { kind: 'failed', code: 'UPSTREAM_ERROR', message: 'the output image exceeds the size limit', billed: true };
}

/** Accepted upstream but unusable: whether it ran (and was billed) is not known. */
function unknownOutcome(message: string, body: Buffer): Failed {
  return { kind: 'failed', code: 'UPSTREAM_OUTCOME_UNKNOWN', message, detail: bodyDetail(body) };
}

function missingHandle(what: string): Failed {
  return { kind: 'failed', code: 'UPSTREAM_ERROR', message: `the job has no upstream ${what} to poll` };
}

function specOf(job: ProviderJob): ModelSpec | undefined {
  try {
    return modelSpec(job.model);
  } catch {
    return undefined;
  }
}

function asRecord(value: unknown): Record<string, unknown> | undefined {
  return value && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
}

/** Response headers worth recording (request ids, remaining credits, timings). */
function vendorHeaders(headers: Record<string, string | string[] | undefined>): Record<string, unknown> {
  const kept = Object.entries(headers).filter(([name]) => name.startsWith('x-') && !/key|auth|token|cookie/i.test(name));
  return kept.length > 0 ? { headers: Object.fromEntries(kept.slice(0, 20)) } : {};
}

function lastSegment(url: string): string {
  return new URL(url).pathname.split('/').filter(Boolean).pop() ?? url;
}

function safeOrigin(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return 'an invalid URL';
  }
}
