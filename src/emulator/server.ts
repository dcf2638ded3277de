// A loopback stand-in for the Segmind API, speaking the documented contract
// (MODELS.md) over real HTTP, so the service and its tests run end to end
// without a cloud key.

import { createHash, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ROUTES, STATUS_TEXT, type Route } from './contract.js';
import { checkFault, FaultBook, isOutcomeFault, type CorruptOutput, type Fault, type RequestFault } from './faults.js';
import { canonicalJson, renderImage, type RenderedImage } from './image.js';
import { RequestStore, type AsyncRequest } from './store.js';
import { validateBody } from './validate.js';

export interface EmulatorOptions {
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 0: a free port. */
  port?: number;
  /** Default 'emulator-key'. */
  apiKey?: string;
  latencyMs?: {
    /** Added to every v1 call; default 0. */
    sync?: number;
    /** Duration of each of QUEUED and PROCESSING on the v2 queue; default 50. */
    queueStep?: number;
    /** Same for workflows; default 50. */
    workflowStep?: number;
  };
  /** How long async results and their media stay available; default one hour, like the vendor. */
  retentionMs?: number;
  /**
   * Async states also last until a status poll has reported them, so every
   * QUEUED and PROCESSING is seen however late the client polls (tests that
   * assert the whole sequence on a busy machine). Default off: the clock alone.
   */
  pacedByPolls?: boolean;
  /** The clock async states and retention are read from; default Date.now (tests move a manual one). */
  clock?: () => number;
  /** Request body limit; default 30 MB. */
  maxBodyBytes?: number;
  /** Base of the absolute URLs the emulator hands out, when clients reach it by another address. */
  publicUrl?: string;
  /** The account's starting balance in micro-dollars; default $1,000. Each accepted run is billed its price. */
  creditsMicros?: number;
  /** Seeds the draws of probabilistic faults (`probability`) that bring no seed of their own; default fixed. */
  faultSeed?: number;
  /** How many calls `stats().calls` keeps (the oldest are dropped first); default 20 000. */
  callLogLimit?: number;
}

/** One request to the API (control endpoints excluded), as the emulator saw it. */
export interface EmulatorCall {
  /** When it arrived, in ms since the epoch. */
  at: number;
  /** How long until it was answered or its connection closed; unset while in flight. */
  ms?: number;
  method: string;
  path: string;
  kind: 'submit' | 'poll' | 'media' | 'other';
  /** Slug of the model it concerns, when known. */
  model?: string;
  /** The async request it created (a submission) or asked about (a poll, its media). */
  requestId?: string;
  /** For a submission: `fingerprint()` of its JSON body, to tell one job's submissions from another's. */
  fingerprint?: string;
  /** For a valid submission: the sha256 of the bytes of each image field sent inline (base64 or a data: URI), by field. */
  inlineImages?: Record<string, string>;
  /** The status answered; null when the connection closed without an answer (dropped, or the client left). */
  status?: number | null;
  /** The kind of RequestFault that shaped it, if any. */
  fault?: 'response' | 'delay' | 'drop';
}

export interface Counter {
  total: number;
  byModel: Record<string, number>;
}

export interface EmulatorStats {
  /** Submissions that passed auth and validation (and so would be billed). */
  submissions: Counter;
  /** Every request to a model's submit endpoint, including refused and faulted ones. */
  attempts: Counter;
  /** Each async request id: its model, its submissions (always 1) and how often it was polled. */
  requests: Record<string, { model: string; mode: 'queue' | 'workflow'; submissions: number; polls: number }>;
  /** Requests answered, delayed or dropped by a RequestFault. */
  faultsServed: number;
  /** Submissions (as in `submissions`) per fingerprint of their body; see `fingerprint()`. */
  submissionsByFingerprint: Record<string, number>;
  /** Every API request since the last reset, oldest first (at most `callLogLimit`). */
  calls: EmulatorCall[];
  /** API requests being handled now. */
  inFlight: number;
  /** The most API requests handled at once since the last reset. */
  maxInFlight: number;
}

/** Identifies a request body independently of key order and formatting: sha256 of its canonical JSON. */
export function fingerprint(body: unknown): string {
  return createHash('sha256').update(canonicalJson(body)).digest('hex');
}

export interface Emulator {
  /** e.g. http://127.0.0.1:40123, no trailing slash. */
  url: string;
  apiKey: string;
  close(): Promise<void>;
  stats(): EmulatorStats;
  resetStats(): void;
  /** Returns an id (listed by GET /__emulator/faults). */
  injectFault(fault: Fault): string;
  clearFaults(): void;
  /** Forgets every async request and its media, as the vendor does once their retention has passed. */
  forgetRequests(): void;
  /** The account balance in micro-dollars (GET /v1/get-user-credits reports it in dollars). */
  creditsMicros(): number;
  setCreditsMicros(micros: number): void;
}

const JSON_TYPE = 'application/json';

type Target =
  | { kind: 'submit'; route: Route }
  /** `elsewhere`: reached at /v2/elsewhere/…, the URLs a namedUrls fault's submit answer names. */
  | { kind: 'queueStatus'; id: string; elsewhere: boolean }
  | { kind: 'queueResult'; id: string; elsewhere: boolean }
  | { kind: 'workflowPoll'; id: string }
  | { kind: 'media'; id: string; ext: string }
  | { kind: 'credits' }
  | { kind: 'wrongMethod'; allow: string }
  | { kind: 'notFound' };

class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly body: Record<string, unknown>,
  ) {
    super(String(body.error ?? status));
  }
}

export async function startEmulator(opts: EmulatorOptions = {}): Promise<Emulator> {
  const host = opts.host ?? '127.0.0.1';
  const apiKey = opts.apiKey ?? 'emulator-key';
  const syncLatency = opts.latencyMs?.sync ?? 0;
  const queueStep = opts.latencyMs?.queueStep ?? 50;
  const workflowStep = opts.latencyMs?.workflowStep ?? 50;
  const maxBodyBytes = opts.maxBodyBytes ?? 30 * 1024 * 1024;
  const clock = opts.clock ?? Date.now;
  const store = new RequestStore(opts.retentionMs ?? 3_600_000, clock, opts.pacedByPolls ?? false);
  const faults = new FaultBook(opts.faultSeed);
  const callLogLimit = opts.callLogLimit ?? 20_000;
  let stats = emptyStats();
  let creditsMicros = opts.creditsMicros ?? 1_000_000_000;
  let inFlight = 0;
  let baseUrl = '';

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      const status = err instanceof HttpError ? err.status : 500;
      const body = err instanceof HttpError ? err.body : { error: `emulator internal error: ${String(err)}` };
      // An unread oversized body is not worth draining: drop the connection after answering.
      if (status === 413 && !res.headersSent) res.setHeader('Connection', 'close');
      sendJson(res, status, body);
    });
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const method = req.method ?? 'GET';
    const path = new URL(req.url ?? '/', 'http://emulator').pathname;
    if (path.startsWith('/__emulator/')) return control(req, res, method, path);

    const target = resolve(method, path);
    const model = target.kind === 'submit' ? target.route.model.slug : modelOfRequest(target);
    const call = track(res, method, path, target, model);
    let body: Buffer | HttpError | undefined;
    if (target.kind === 'submit') {
      count(stats.attempts, model!);
      // Read first, so that even a faulted attempt is known by its fingerprint; a read error waits its turn.
      body = await readBody(req, maxBodyBytes).catch((err: unknown) => {
        if (err instanceof HttpError) return err;
        throw err;
      });
      if (Buffer.isBuffer(body)) call.fingerprint = fingerprintOf(body);
    }

    const fault = faults.takeRequestFault({ method, path, model });
    if (fault) {
      stats.faultsServed += 1;
      call.fault = fault.drop ? 'drop' : fault.response ? 'response' : 'delay';
      if (fault.delayMs) await sleep(fault.delayMs);
      if (fault.drop) {
        // A connection reset with no answer at all, as from a crashing load balancer.
        req.socket.destroy();
        return;
      }
      if (fault.response) return sendFault(res, fault.response);
    }

    switch (target.kind) {
      case 'submit':
        return submit(req, res, target.route, body!, call);
      case 'queueStatus':
      case 'queueResult':
        checkAuth(req, 'x-api-key');
        return queueAnswer(res, target.id, target.kind === 'queueResult', target.elsewhere);
      case 'workflowPoll':
        checkAuth(req, 'bearer');
        return workflowAnswer(res, target.id);
      case 'media':
        return media(res, target.id, target.ext);
      case 'credits':
        checkAuth(req, 'x-api-key');
        // The vendor's shape: dollars as JSON numbers, paid and free credits apart.
        return sendJson(res, 200, { credits: creditsMicros / 1_000_000, 'free-credits': 0 });
      case 'wrongMethod':
        res.setHeader('Allow', target.allow);
        throw new HttpError(405, { error: `method ${method} not allowed on ${path}` });
      case 'notFound':
        throw new HttpError(404, { error: `${STATUS_TEXT[404]}: ${path}` });
    }
  }

  /** Counts the call in flight and logs it; its entry is completed when the connection is done with it. */
  function track(res: ServerResponse, method: string, path: string, target: Target, model: string | undefined): EmulatorCall {
    const kind: EmulatorCall['kind'] =
      target.kind === 'submit' ? 'submit'
      : target.kind === 'media' ? 'media'
      : target.kind === 'queueStatus' || target.kind === 'queueResult' || target.kind === 'workflowPoll' ? 'poll'
      : 'other';
    const call: EmulatorCall = { at: Date.now(), method, path, kind };
    if (model) call.model = model;
    if ('id' in target) call.requestId = target.id;
    const log = stats;
    log.calls.push(call);
    if (log.calls.length > callLogLimit) log.calls.splice(0, log.calls.length - callLogLimit);
    inFlight += 1;
    log.maxInFlight = Math.max(log.maxInFlight, inFlight);
    res.once('close', () => {
      inFlight -= 1;
      call.ms = Date.now() - call.at;
      call.status = res.headersSent ? res.statusCode : null;
    });
    return call;
  }

  async function submit(req: IncomingMessage, res: ServerResponse, route: Route, raw: Buffer | HttpError, call: EmulatorCall): Promise<void> {
    checkAuth(req, route.auth);
    if (raw instanceof HttpError) throw raw;
    const body = parseJsonBody(raw);
    const checked = validateBody(route.model, body);
    if (!checked.ok) throw new HttpError(400, { error: checked.message, field: checked.field });

    call.inlineImages = inlineImageDigests(route.model, checked.params);
    const price = route.model.priceMicros(checked.params);
    if (creditsMicros < price) throw new HttpError(406, { error: STATUS_TEXT[406] });
    const slug = route.model.slug;
    count(stats.submissions, slug);
    if (call.fingerprint) stats.submissionsByFingerprint[call.fingerprint] = (stats.submissionsByFingerprint[call.fingerprint] ?? 0) + 1;
    const image = await renderImage(route.model, checked.params);
    const base64 = checked.params.base64 === true;

    if (route.mode === 'sync') {
      const corrupt = faults.takeOutcomeFault({ method: 'POST', path: route.path, model: slug }, (f) => f.corruptOutput !== undefined);
      if (syncLatency > 0) await sleep(syncLatency);
      creditsMicros -= price;
      if (corrupt?.corruptOutput) return sendCorrupt(res, corrupt.corruptOutput, image);
      if (base64) return sendJson(res, 200, { image: image.bytes.toString('base64') });
      if (res.destroyed) return; // the client gave up while we were "computing"
      res.writeHead(200, { 'Content-Type': image.mimeType, 'Content-Length': image.bytes.length });
      res.end(image.bytes);
      return;
    }

    const outcome = faults.takeOutcomeFault({ method: 'POST', path: route.path, model: slug });
    const id = randomUUID();
    const request: AsyncRequest = {
      id,
      model: route.model,
      mode: route.mode,
      createdAt: clock(),
      stepMs: route.mode === 'queue' ? queueStep : workflowStep,
      processingMs: outcome?.processingMs,
      image,
      base64,
      failure: outcome?.outcome === 'FAILED' ? (outcome.error ?? 'content blocked by RAI policy') : undefined,
      corruptOutput: outcome?.corruptOutput,
      elsewhere: route.mode === 'queue' && outcome?.namedUrls !== undefined && outcome.namedUrls.origin === undefined,
      hiddenPolls: outcome?.visibleAfterPolls,
    };
    store.add(request);
    // Billed on acceptance, except runs the upstream itself refuses (content blocks).
    if (!request.failure) creditsMicros -= price;
    call.requestId = id;
    stats.requests[id] = { model: slug, mode: route.mode, submissions: 1, polls: 0 };

    if (route.mode === 'queue') {
      const named = outcome?.namedUrls;
      if (named) {
        const origin = named.origin ?? baseUrl;
        return sendJson(res, 200, {
          request_id: id,
          [named.statusKey ?? 'status_url']: `${origin}/v2/elsewhere/${id}/status`,
          response_url: `${origin}/v2/elsewhere/${id}`,
        });
      }
      return sendJson(res, 200, {
        request_id: id,
        status_url: `${baseUrl}/v2/requests/${id}/status`,
        response_url: `${baseUrl}/v2/requests/${id}`,
      });
    }
    return sendJson(res, 200, { poll_url: `${baseUrl}/workflows/request/${id}`, request_id: id, status: 'QUEUED' });
  }

  function queueAnswer(res: ServerResponse, id: string, wantResult: boolean, elsewhere: boolean): void {
    const request = pollable(id, 'queue', elsewhere);
    const status = store.poll(request);
    if (status === 'FAILED') return sendJson(res, 422, { status, error: request.failure });
    if (!wantResult) return sendJson(res, 200, { status });
    if (status !== 'COMPLETED') return sendJson(res, 202, { status });
    const output = request.base64 ? request.image.bytes.toString('base64') : mediaUrl(request);
    sendJson(res, 200, { status, output, metrics: { inference_time: store.inferenceTime(request) } });
  }

  function workflowAnswer(res: ServerResponse, id: string): void {
    const request = pollable(id, 'workflow');
    const status = store.poll(request);
    if (status === 'FAILED') return sendJson(res, 200, { status, error: request.failure });
    if (status !== 'COMPLETED') return sendJson(res, 200, { status });
    sendJson(res, 200, { status, output: JSON.stringify({ image: mediaUrl(request) }) });
  }

  function pollable(id: string, mode: 'queue' | 'workflow', elsewhere = false): AsyncRequest {
    const request = store.get(id);
    const notFound = () => new HttpError(404, { error: `request ${id} not found or expired` });
    if (!request || request.mode !== mode || (request.elsewhere ?? false) !== elsewhere) throw notFound();
    const entry = stats.requests[id];
    if (entry) entry.polls += 1;
    if (request.hiddenPolls) {
      request.hiddenPolls -= 1;
      throw notFound(); // not visible yet
    }
    return request;
  }

  function media(res: ServerResponse, id: string, ext: string): void {
    const request = store.get(id);
    if (!request || store.status(request) !== 'COMPLETED' || ext !== request.image.format) {
      throw new HttpError(404, { error: 'media not found or expired' });
    }
    if (request.corruptOutput) return sendCorrupt(res, request.corruptOutput, request.image);
    res.writeHead(200, { 'Content-Type': request.image.mimeType, 'Content-Length': request.image.bytes.length });
    res.end(request.image.bytes);
  }

  function mediaUrl(request: AsyncRequest): string {
    return `${baseUrl}/outputs/${request.id}.${request.image.format}`;
  }

  function modelOfRequest(target: Target): string | undefined {
    return 'id' in target ? store.get(target.id)?.model.slug : undefined;
  }

  function checkAuth(req: IncomingMessage, scheme: Route['auth']): void {
    let given: string | undefined;
    if (scheme === 'x-api-key') {
      const header = req.headers['x-api-key'];
      given = Array.isArray(header) ? header[0] : header;
    } else {
      given = /^Bearer\s+(.+)$/i.exec(req.headers.authorization ?? '')?.[1]?.trim();
    }
    if (!given) {
      const where = scheme === 'x-api-key' ? 'x-api-key header' : 'Authorization: Bearer header';
      throw new HttpError(401, { error: `Unauthorized: missing API key (${where})` });
    }
    if (given !== apiKey) throw new HttpError(401, { error: 'Unauthorized: invalid API key' });
  }

  async function control(req: IncomingMessage, res: ServerResponse, method: string, path: string): Promise<void> {
    if (path === '/__emulator/faults' && method === 'POST') {
      const body = parseJsonBody(await readBody(req, maxBodyBytes));
      const list = Array.isArray(body) ? body : [body];
      try {
        list.forEach((f) => checkFault(f));
      } catch (err) {
        throw new HttpError(400, { error: (err as Error).message });
      }
      return sendJson(res, 201, { ids: (list as Fault[]).map((f) => faults.add(f)) });
    }
    if (path === '/__emulator/faults' && method === 'GET') return sendJson(res, 200, { faults: faults.pending() });
    if (path === '/__emulator/faults' && method === 'DELETE') {
      faults.clear();
      return sendEmpty(res);
    }
    if (path === '/__emulator/stats' && method === 'GET') return sendJson(res, 200, snapshot());
    if (path === '/__emulator/credits' && method === 'PUT') {
      const body = parseJsonBody(await readBody(req, maxBodyBytes)) as { micros?: unknown };
      if (!Number.isSafeInteger(body?.micros) || (body.micros as number) < 0) {
        throw new HttpError(400, { error: 'body must be {"micros": <integer ≥ 0>}' });
      }
      creditsMicros = body.micros as number;
      return sendJson(res, 200, { micros: creditsMicros });
    }
    if (path === '/__emulator/stats' && method === 'DELETE') {
      resetStats();
      return sendEmpty(res);
    }
    throw new HttpError(404, { error: `no control endpoint ${method} ${path}` });
  }

  function snapshot(): EmulatorStats {
    return { ...structuredClone(stats), inFlight };
  }

  function resetStats(): void {
    stats = emptyStats();
    stats.maxInFlight = inFlight;
  }

  await new Promise<void>((resolvePromise, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, host, () => {
      server.off('error', reject);
      resolvePromise();
    });
  });
  const address = server.address() as AddressInfo;
  baseUrl = opts.publicUrl?.replace(/\/+$/, '') ?? `http://${urlHost(address)}:${address.port}`;

  return {
    url: baseUrl,
    apiKey,
    close: () =>
      new Promise<void>((resolveClose) => {
        server.close(() => resolveClose());
        server.closeAllConnections();
        store.clear();
      }),
    stats: snapshot,
    resetStats,
    injectFault: (fault) => faults.add(fault),
    clearFaults: () => faults.clear(),
    forgetRequests: () => store.clear(),
    creditsMicros: () => creditsMicros,
    setCreditsMicros: (micros) => {
      creditsMicros = micros;
    },
  };
}

function resolve(method: string, path: string): Target {
  const routes = ROUTES.filter((r) => r.path === path);
  if (routes.length > 0) {
    const route = routes.find((r) => r.method === method);
    return route ? { kind: 'submit', route } : { kind: 'wrongMethod', allow: 'POST' };
  }
  let m: RegExpExecArray | null;
  if ((m = /^\/v2\/(requests|elsewhere)\/([^/]+)\/status$/.exec(path))) {
    return onlyGet(method, { kind: 'queueStatus', id: m[2]!, elsewhere: m[1] === 'elsewhere' });
  }
  if ((m = /^\/v2\/(requests|elsewhere)\/([^/]+)$/.exec(path))) {
    return onlyGet(method, { kind: 'queueResult', id: m[2]!, elsewhere: m[1] === 'elsewhere' });
  }
  if ((m = /^\/workflows\/request\/([^/]+)$/.exec(path))) return onlyGet(method, { kind: 'workflowPoll', id: m[1]! });
  if (path === '/v1/get-user-credits') return onlyGet(method, { kind: 'credits' });
  if ((m = /^\/outputs\/([^/.]+)\.([a-z]+)$/.exec(path))) return onlyGet(method, { kind: 'media', id: m[1]!, ext: m[2]! });
  return { kind: 'notFound' };
}

function onlyGet(method: string, target: Target): Target {
  return method === 'GET' ? target : { kind: 'wrongMethod', allow: 'GET' };
}

function sendFault(res: ServerResponse, response: NonNullable<RequestFault['response']>): void {
  if (response.retryAfterSeconds !== undefined) res.setHeader('Retry-After', String(response.retryAfterSeconds));
  for (const [name, value] of Object.entries(response.headers ?? {})) res.setHeader(name, value);
  const body = response.body ?? { error: STATUS_TEXT[response.status] ?? `HTTP ${response.status}` };
  sendJson(res, response.status, body);
}

/** What a broken CDN or gateway serves under an image Content-Type (a corruptOutput fault). */
export function corruptBody(kind: CorruptOutput, image: RenderedImage): Buffer {
  switch (kind) {
    case 'json':
      return Buffer.from(JSON.stringify({ error: 'Internal error while rendering the output', code: 500 }));
    case 'html':
      return Buffer.from('<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1></center><hr><center>cdn-edge</center></body></html>');
    case 'xml':
      return Buffer.from('<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>AccessDenied</Code><Message>Access Denied</Message><RequestId>4Q2V1M7X</RequestId></Error>');
    case 'empty':
      return Buffer.alloc(0);
    case 'truncated':
      return image.bytes.subarray(0, Math.floor(image.bytes.length / 2));
  }
}

function sendCorrupt(res: ServerResponse, kind: CorruptOutput, image: RenderedImage): void {
  if (res.headersSent || res.destroyed) return;
  const body = corruptBody(kind, image);
  res.writeHead(200, { 'Content-Type': image.mimeType, 'Content-Length': body.length });
  res.end(body);
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  if (res.headersSent || res.destroyed) return;
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': JSON_TYPE, 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

function sendEmpty(res: ServerResponse): void {
  res.writeHead(204);
  res.end();
}

async function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length']);
  const tooLarge = () => new HttpError(413, { error: `request body exceeds ${limit} bytes` });
  if (Number.isFinite(declared) && declared > limit) throw tooLarge();
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) throw tooLarge();
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

/** sha256 of the decoded bytes of each inline image field of valid params (validateBody checked their form). */
function inlineImageDigests(model: Route['model'], params: Record<string, unknown>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, def] of Object.entries(model.fields)) {
    const value = params[name];
    if (def.type !== 'image' || typeof value !== 'string' || /^https?:\/\//i.test(value)) continue;
    const payload = /^data:/i.test(value) ? value.slice(value.indexOf(',') + 1) : value;
    out[name] = createHash('sha256').update(Buffer.from(payload.replace(/\s+/g, ''), 'base64')).digest('hex');
  }
  return out;
}

/** The fingerprint of a submission body: of its JSON when it parses, else of its bytes. */
function fingerprintOf(raw: Buffer): string {
  try {
    return fingerprint(JSON.parse(raw.toString('utf8')));
  } catch {
    return createHash('sha256').update(raw).digest('hex');
  }
}

function parseJsonBody(raw: Buffer): unknown {
  const text = raw.toString('utf8');
  if (text.trim() === '') throw new HttpError(400, { error: 'request body is empty; expected a JSON object' });
  try {
    return JSON.parse(text);
  } catch {
    throw new HttpError(400, { error: 'request body is not valid JSON' });
  }
}

function count(counter: Counter, model: string): void {
  counter.total += 1;
  counter.byModel[model] = (counter.byModel[model] ?? 0) + 1;
}

function emptyStats(): EmulatorStats {
  return {
    submissions: { total: 0, byModel: {} },
    attempts: { total: 0, byModel: {} },
    requests: {},
    faultsServed: 0,
    submissionsByFingerprint: {},
    calls: [],
    inFlight: 0,
    maxInFlight: 0,
  };
}

function urlHost(address: AddressInfo): string {
  if (address.address === '0.0.0.0') return '127.0.0.1';
  if (address.address === '::') return '[::1]';
  return address.family === 'IPv6' ? `[${address.address}]` : address.address;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms).unref());
}
