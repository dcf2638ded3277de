// The Segmind upstream, for the three ways its models run (see Protocol in
// src/models/types.ts): v1 answers with the image, the v2 queue and the
// workflows answer with a handle that is polled.

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
  findImageUrl,
  findInlineImage,
  imageMimeType,
  isHttpUrl,
  parseJson,
  withoutLargeValues,
} from './segmind-output.js';
import type { PollOutcome, ProviderJob, ProviderOutput, SubmitOutcome, UpstreamProvider } from './types.js';
import { isImageRef } from '../../models/image-ref.js';

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

  function call(method: 'GET' | 'POST', url: string, headers: Record<string, string>, signal: AbortSignal, extra: {
    body?: unknown;
    timeoutMs?: number;
    maxBytes?: number;
  } = {}): Promise<HttpResult> {
    const json = extra.body !== undefined;
    return httpCall({
      method,
      url,
      headers: { accept: '*/*', ...(json ? { 'content-type': 'application/json' } : {}), ...headers },
      body: json ? JSON.stringify(extra.body) : undefined,
      signal,
      timeoutMs: extra.timeoutMs ?? pollTimeoutMs,
      maxBytes: extra.maxBytes ?? JSON_LIMIT,
      dispatcher: opts.dispatcher,
    });
  }

  // ---- sync (v1) ----

  async function submitSync(spec: ModelSpec, job: ProviderJob, signal: AbortSignal): Promise<SubmitOutcome> {
    const res = await call('POST', baseUrl + spec.endpoint, keyHeader, signal, {
      body: wireBody(job),
      timeoutMs: requestTimeoutMs,
      maxBytes: maxOutputBytes + 1,
    });
    if (res.kind === 'network') return networkRetry(res, 'submit');
    if (res.status < 200 || res.status >= 300) return outcomeForStatus(res.status, res.headers, res.body, 'submit');
    if (res.body.length > maxOutputBytes) return tooLarge();

    const contentType = header(res.headers, 'content-type');
    const upstream: Record<string, unknown> = { httpStatus: res.status, contentType: contentType ?? null, ...vendorHeaders(res.headers) };
    const raw = imageMimeType(res.body, contentType);
    if (raw && !contentType?.includes('json')) return completed(res.body, raw, { ...upstream, encoding: 'binary' });

    // base64 mode: JSON {image}, a JSON string, or plain text.
    const parsed = parseJson(res.body);
    const inline = parsed !== undefined ? findInlineImage(parsed) : decodeBase64Image(res.body.toString('utf8'));
    if (inline) return completed(inline.bytes, inline.mimeType, { ...upstream, encoding: 'base64' });
    const url = parsed !== undefined ? findImageUrl(parsed) : null;
    if (url) {
      const outcome = await download(url, signal, { ...upstream, ...(asRecord(withoutLargeValues(parsed)) ?? {}) });
      return outcome.kind === 'failed' && outcome.code === 'EXPIRED' ? { ...outcome, code: 'UPSTREAM_ERROR' } : outcome;
    }
    return notAnImage(res.body, res.status);
  }

  // ---- queue (v2) ----

  /** POSTs an async submission; its JSON answer, or the outcome when there is none to read. */
  async function postSubmission(
    spec: ModelSpec,
    job: ProviderJob,
    auth: Record<string, string>,
    signal: AbortSignal,
  ): Promise<{ body: Record<string, unknown> | undefined; raw: Buffer } | { outcome: SubmitOutcome }> {
    const res = await call('POST', baseUrl + spec.endpoint, auth, signal, { body: wireBody(job) });
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
      pollUrl: typeof body?.status_url === 'string' ? body.status_url : null,
      upstream: body ?? {},
    };
  }

  async function pollQueue(job: ProviderJob, signal: AbortSignal): Promise<PollOutcome> {
    if (!job.upstreamRequestId) return missingHandle('request id');
    const base = `${baseUrl}/v2/requests/${encodeURIComponent(job.upstreamRequestId)}`;

    const statusRes = await call('GET', `${base}/status`, keyHeader, signal);
    const status = readStatus(statusRes, 'poll');
    if (status.kind !== 'status') return status.outcome;
    if (status.value !== 'COMPLETED') return pendingOrFailed(status.value, status.body);

    // The status said done; the result body carries the output.
    const resultRes = await call('GET', base, keyHeader, signal);
    if (resultRes.kind === 'response' && resultRes.status === 202) return { kind: 'pending', upstreamStatus: 'PROCESSING' };
    const result = readStatus(resultRes, 'poll');
    if (result.kind !== 'status') return result.outcome;
    if (result.value !== 'COMPLETED') return pendingOrFailed(result.value, result.body);

    const output = result.body.output;
    const upstream = asRecord(withoutLargeValues(result.body)) ?? {};
    if (isHttpUrl(output)) return download(output.trim(), signal, upstream);
    const inline = typeof output === 'string' ? decodeBase64Image(output) : findInlineImage(output);
    if (inline) return completed(inline.bytes, inline.mimeType, upstream);
    const url = findImageUrl(output);
    if (url) return download(url, signal, upstream);
    return { kind: 'failed', code: 'UPSTREAM_ERROR', message: 'the completed request has no image output', detail: upstream };
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
    const res = await call('GET', job.upstreamPollUrl, bearerHeader, signal);
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
    if (url) return download(url, signal, upstream);
    const inline = findInlineImage(outputs);
    if (inline) return completed(inline.bytes, inline.mimeType, upstream);
    return { kind: 'failed', code: 'UPSTREAM_ERROR', message: 'the completed workflow has no image output', detail: upstream };
  }

  // ---- shared ----

  /** GETs the output image. No credentials: media URLs are public and may live on another host. */
  async function download(url: string, signal: AbortSignal, upstream: Record<string, unknown>): Promise<Completed | Failed | RetryOutcome> {
    let res: GuardedResponse;
    try {
      res = await downloads.fetch(url, { signal, timeoutMs: requestTimeoutMs, maxBytes: maxOutputBytes, maxRedirects: MAX_REDIRECTS });
    } catch (err) {
      if (!(err instanceof OutboundFetchError)) throw err;
      if (err.rule === 'timeout' || err.rule === 'network') return { kind: 'retry', reason: `${err.rule === 'timeout' ? 'timeout' : 'network error'} during download: ${err.message}` };
      if (err.rule === 'too-large') return tooLarge();
      return { kind: 'failed', code: 'UPSTREAM_ERROR', message: `refused to download the output from ${safeOrigin(url)}: ${err.message}`, detail: { rule: err.rule } };
    }
    if (res.status < 200 || res.status >= 300) return outcomeForStatus(res.status, res.headers, res.body, 'download');
    const mimeType = imageMimeType(res.body, header(res.headers, 'content-type'));
    if (!mimeType) return notAnImage(res.body, res.status);
    return completed(res.body, mimeType, { ...upstream, outputUrl: url });
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

    async readCredits(signal) {
      const res = await call('GET', `${baseUrl}/v1/get-user-credits`, keyHeader, signal);
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
  return { kind: 'retry', reason: what };
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

function notAnImage(body: Buffer, httpStatus: number): Failed {
  return {
    kind: 'failed',
    code: 'UPSTREAM_ERROR',
    message: `the upstream answered ${httpStatus} without a recognisable image: ${errorText(body.subarray(0, 256))}`,
    httpStatus,
  };
}

function tooLarge(): Failed {
  return { kind: 'failed', code: 'UPSTREAM_ERROR', message: 'the output image exceeds the size limit' };
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
