// The Segmind provider against the emulator over loopback HTTP.

import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { createServer, type AddressInfo } from 'node:net';
import sharp from 'sharp';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator, type Emulator } from '../src/emulator/index.js';
import { parseRetryAfter } from '../src/services/providers/http.js';
import { createSegmindProvider } from '../src/services/providers/segmind.js';
import type { PollOutcome, ProviderJob, SubmitOutcome, UpstreamProvider } from '../src/services/providers/types.js';
import { modelWithProtocol } from './support/fixtures.js';
import { manualClock, waitUntil } from './support/wait.js';

const IMG_A = 'https://example.com/a.jpg';
const IMG_B = 'https://example.com/b.png';

// Normalised wire parameters, as the service stores them (defaults filled in).
const PARAMS: Record<string, Record<string, unknown>> = {
  FACESWAP_V4: {
    source_image: IMG_A, target_image: IMG_B, swap_type: 'head', model_type: 'speed', style_type: 'normal',
    seed: 1234, image_format: 'webp', image_quality: 90, hardware: 'fast', base64: false,
  },
  FACESWAP_V3_MULTI: {
    source_img: IMG_A, target_img: IMG_B, input_faces_index: '0,1', source_faces_index: '0', detection_face_order: 'large-small',
    facedetection: 'retinaface_resnet50', detect_gender_input: 'no', detect_gender_source: 'no', face_restore: 'disable',
    face_restore_weight: 0.75, interpolation: 'Bilinear', image_format: 'jpeg', image_quality: 95, base64: false,
  },
  FACESWAP_V2: {
    source_img: IMG_A, target_img: IMG_B, input_faces_index: '0', source_faces_index: '0', face_restore: 'codeformer-v0.1.0.pth', base64: false,
  },
  FACESWAP_COMIC: {
    source_image: IMG_A, target_image: IMG_B, face_strength: 0.8, style_strength: 0.8, seed: 63255, steps: 10, cfg: 1.6,
    prompt: 'happy', grow_mask: 0, output_format: 'png', output_quality: 95, base64: false,
  },
  BODY_SWAP: { reference_character_image: IMG_A, character_image: IMG_B, select_character: 'woman' },
};
const EXPECTED_FORMAT: Record<string, string> = {
  FACESWAP_V4: 'webp', FACESWAP_V3_MULTI: 'jpeg', FACESWAP_V2: 'jpeg', FACESWAP_COMIC: 'png', BODY_SWAP: 'png',
};

let emu: Emulator;
let provider: UpstreamProvider;

beforeAll(async () => {
  emu = await startEmulator({ latencyMs: { queueStep: 10, workflowStep: 10 } });
  provider = createSegmindProvider({ baseUrl: emu.url, apiKey: emu.apiKey });
});
afterAll(() => emu.close());
afterEach(() => emu.clearFaults());

const never = () => new AbortController().signal;

function job(model: string, params: Record<string, unknown> = {}): ProviderJob {
  return { id: `job-${model}`, provider: 'segmind', model, params: { ...PARAMS[model], ...params }, upstreamRequestId: null, upstreamPollUrl: null };
}

/** Submit, then poll like the worker would, until the outcome is final. */
async function run(j: ProviderJob, p: UpstreamProvider = provider): Promise<SubmitOutcome | PollOutcome> {
  const submitted = await p.submit(j, never());
  if (submitted.kind !== 'accepted') return submitted;
  const polled = { ...j, upstreamRequestId: submitted.requestId, upstreamPollUrl: submitted.pollUrl };
  let outcome: PollOutcome | undefined;
  return waitUntil(
    async () => {
      outcome = await p.poll(polled, never());
      return outcome.kind !== 'pending' && outcome;
    },
    () => `never completed: ${JSON.stringify(outcome)}`,
    { everyMs: 5 },
  );
}

async function accepted(j: ProviderJob): Promise<ProviderJob> {
  const submitted = await provider.submit(j, never());
  if (submitted.kind !== 'accepted') throw new Error(`expected accepted, got ${JSON.stringify(submitted)}`);
  return { ...j, upstreamRequestId: submitted.requestId, upstreamPollUrl: submitted.pollUrl };
}

describe('end to end, all five models', () => {
  it.each(Object.keys(PARAMS))('%s completes with a decodable image', async (model) => {
    const outcome = await run(job(model));
    expect(outcome.kind).toBe('completed');
    if (outcome.kind !== 'completed') return;
    const format = EXPECTED_FORMAT[model]!;
    expect(outcome.output.mimeType).toBe(`image/${format}`);
    const meta = await sharp(outcome.output.bytes).metadata();
    expect(meta.format).toBe(format);
    expect(meta.width).toBe(64);
  });

  it('reports the queue handle and the final body', async () => {
    const submitted = await provider.submit(job('FACESWAP_V2'), never());
    expect(submitted).toMatchObject({ kind: 'accepted', requestId: expect.any(String) });
    if (submitted.kind !== 'accepted') return;
    expect(submitted.pollUrl).toBe(`${emu.url}/v2/requests/${submitted.requestId}/status`);
    const outcome = await run(job('FACESWAP_V2'));
    if (outcome.kind !== 'completed') throw new Error(outcome.kind);
    expect(outcome.output.upstream).toMatchObject({ status: 'COMPLETED', metrics: { inference_time: expect.any(Number) } });
    expect(String(outcome.output.upstream.output)).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/outputs\//);
  });

  it('reports the workflow poll_url and the parsed outputs', async () => {
    const submitted = await provider.submit(job('BODY_SWAP'), never());
    if (submitted.kind !== 'accepted') throw new Error(submitted.kind);
    expect(submitted.pollUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/workflows\/request\//);
    const outcome = await run(job('BODY_SWAP'));
    if (outcome.kind !== 'completed') throw new Error(outcome.kind);
    expect(outcome.output.upstream).toMatchObject({ status: 'COMPLETED', outputs: { image: expect.stringMatching(/^http/) } });
  });

  it('sends the same seed to the same bytes', async () => {
    const a = await run(job('FACESWAP_V4'));
    const b = await run(job('FACESWAP_V4'));
    const c = await run(job('FACESWAP_V4', { seed: 99 }));
    if (a.kind !== 'completed' || b.kind !== 'completed' || c.kind !== 'completed') throw new Error('not completed');
    expect(a.output.bytes.equals(b.output.bytes)).toBe(true);
    expect(a.output.bytes.equals(c.output.bytes)).toBe(false);
  });
});

describe('base64 mode', () => {
  it.each(['FACESWAP_V4', 'FACESWAP_COMIC', 'FACESWAP_V2', 'FACESWAP_V3_MULTI'])('%s stores the decoded bytes', async (model) => {
    const raw = await run(job(model));
    const b64 = await run(job(model, { base64: true }));
    if (raw.kind !== 'completed' || b64.kind !== 'completed') throw new Error('not completed');
    expect(b64.output.bytes.equals(raw.output.bytes)).toBe(true);
    expect(b64.output.mimeType).toBe(raw.output.mimeType);
    // The inline image is not copied into the upstream record.
    expect(JSON.stringify(b64.output.upstream).length).toBeLessThan(4096);
  });
});

describe('status mapping', () => {
  it.each([
    [400, 'INVALID_INPUT'],
    [403, 'FORBIDDEN'],
    [404, 'MODEL_NOT_FOUND'],
    [406, 'INSUFFICIENT_CREDITS'],
  ] as const)('submit %i → failed %s with the vendor detail', async (status, code) => {
    emu.injectFault({ match: { model: 'faceswap-v4' }, response: { status, body: { error: `vendor says ${status}` } } });
    const outcome = await provider.submit(job('FACESWAP_V4'), never());
    expect(outcome).toMatchObject({ kind: 'failed', code, httpStatus: status, detail: { error: `vendor says ${status}` } });
    if (outcome.kind === 'failed') expect(outcome.message).toContain(`vendor says ${status}`);
  });

  it('a real validation error is INVALID_INPUT naming the field', async () => {
    const outcome = await provider.submit(job('FACESWAP_V4', { swap_type: 'body' }), never());
    expect(outcome).toMatchObject({ kind: 'failed', code: 'INVALID_INPUT', httpStatus: 400 });
    if (outcome.kind === 'failed') expect(outcome.message).toContain('swap_type');
  });

  it('a wrong key is UNAUTHORIZED, on every protocol', async () => {
    const wrong = createSegmindProvider({ baseUrl: emu.url, apiKey: 'wrong-key' });
    for (const protocol of ['sync', 'queue', 'workflow'] as const) {
      const outcome = await wrong.submit(job(modelWithProtocol(protocol)), never());
      expect(outcome).toMatchObject({ kind: 'failed', code: 'UNAUTHORIZED', httpStatus: 401 });
      if (outcome.kind === 'failed') expect(outcome.message).not.toContain('wrong-key');
    }
  });

  it('an endpoint missing upstream is MODEL_NOT_FOUND', async () => {
    const elsewhere = createSegmindProvider({ baseUrl: `${emu.url}/nowhere`, apiKey: emu.apiKey });
    expect(await elsewhere.submit(job('FACESWAP_COMIC'), never())).toMatchObject({ kind: 'failed', code: 'MODEL_NOT_FOUND' });
  });

  it.each([429, 500, 502, 503] as const)('submit %i → retry', async (status) => {
    emu.injectFault({ match: { model: 'faceswap-comic' }, response: { status } });
    const outcome = await provider.submit(job('FACESWAP_COMIC'), never());
    expect(outcome).toMatchObject({ kind: 'retry', httpStatus: status });
    if (outcome.kind === 'retry') expect(outcome.reason).toContain(String(status));
  });

  it('submit 504 → UPSTREAM_OUTCOME_UNKNOWN: the upstream got the request and may run it, so it is not resent', async () => {
    emu.injectFault({ match: { model: 'faceswap-comic' }, response: { status: 504 } });
    expect(await provider.submit(job('FACESWAP_COMIC'), never())).toMatchObject({ kind: 'failed', code: 'UPSTREAM_OUTCOME_UNKNOWN', httpStatus: 504 });
  });

  it('poll 504 → retry (polling is safe to repeat)', async () => {
    const queued = await accepted(job('FACESWAP_V2'));
    emu.injectFault({ match: { path: '/v2/requests/*' }, response: { status: 504 } });
    expect(await provider.poll(queued, never())).toMatchObject({ kind: 'retry', httpStatus: 504 });
  });

  it('429 carries Retry-After in seconds or as an HTTP-date', async () => {
    emu.injectFault({ match: { model: 'faceswap-v2' }, response: { status: 429, retryAfterSeconds: 7 } });
    expect(await provider.submit(job('FACESWAP_V2'), never())).toMatchObject({ kind: 'retry', retryAfterMs: 7000, httpStatus: 429 });

    const at = new Date(Date.now() + 30_000).toUTCString();
    emu.injectFault({ match: { model: 'ai-body-swap' }, response: { status: 503, headers: { 'Retry-After': at } } });
    const outcome = await provider.submit(job('BODY_SWAP'), never());
    expect(outcome.kind).toBe('retry');
    if (outcome.kind === 'retry') {
      expect(outcome.retryAfterMs).toBeGreaterThan(25_000);
      expect(outcome.retryAfterMs).toBeLessThanOrEqual(30_000);
    }
  });

  it('poll errors map too: 500 → retry, 401 → UNAUTHORIZED', async () => {
    const queued = await accepted(job('FACESWAP_V2'));
    emu.injectFault({ match: { path: '/v2/requests/*' }, response: { status: 500 } });
    expect(await provider.poll(queued, never())).toMatchObject({ kind: 'retry', httpStatus: 500 });
    emu.injectFault({ match: { model: 'ai-body-swap', method: 'GET' }, response: { status: 401 } });
    const wf = await accepted(job('BODY_SWAP'));
    expect(await provider.poll(wf, never())).toMatchObject({ kind: 'failed', code: 'UNAUTHORIZED' });
  });

  it('a FAILED queue request (422) with a content detail is CONTENT_BLOCKED', async () => {
    emu.injectFault({ match: { model: 'faceswap-v2' }, outcome: 'FAILED', error: 'content blocked by RAI policy' });
    const outcome = await run(job('FACESWAP_V2'));
    expect(outcome).toMatchObject({ kind: 'failed', code: 'CONTENT_BLOCKED', httpStatus: 422 });
    if (outcome.kind === 'failed') expect(outcome.message).toContain('content blocked by RAI policy');
  });

  it('a FAILED queue request with another detail is UPSTREAM_ERROR', async () => {
    emu.injectFault({ match: { model: 'faceswap-v2' }, outcome: 'FAILED', error: 'CUDA out of memory' });
    const outcome = await run(job('FACESWAP_V2'));
    expect(outcome).toMatchObject({ kind: 'failed', code: 'UPSTREAM_ERROR' });
    if (outcome.kind === 'failed') expect(outcome.message).toContain('CUDA out of memory');
  });

  it('a FAILED workflow maps by its error too', async () => {
    emu.injectFault({ match: { model: 'ai-body-swap' }, outcome: 'FAILED', error: 'NSFW content detected' });
    expect(await run(job('BODY_SWAP'))).toMatchObject({ kind: 'failed', code: 'CONTENT_BLOCKED' });
    emu.injectFault({ match: { model: 'ai-body-swap' }, outcome: 'FAILED', error: 'node 12 crashed' });
    const outcome = await run(job('BODY_SWAP'));
    expect(outcome).toMatchObject({ kind: 'failed', code: 'UPSTREAM_ERROR' });
    if (outcome.kind === 'failed') expect(outcome.message).toContain('node 12 crashed');
  });

  it('an unknown or expired request is EXPIRED', async () => {
    const gone = { ...job('FACESWAP_V2'), upstreamRequestId: 'no-such-request', upstreamPollUrl: null };
    expect(await provider.poll(gone, never())).toMatchObject({ kind: 'failed', code: 'EXPIRED', httpStatus: 404 });
    const goneWf = { ...job('BODY_SWAP'), upstreamRequestId: 'x', upstreamPollUrl: `${emu.url}/workflows/request/no-such-request` };
    expect(await provider.poll(goneWf, never())).toMatchObject({ kind: 'failed', code: 'EXPIRED' });
  });

  it('results past their retention are EXPIRED', async () => {
    // The emulator's clock moves only when the test moves it.
    const clock = manualClock();
    const short = await startEmulator({ retentionMs: 20, latencyMs: { queueStep: 5 }, clock: clock.now });
    try {
      const p = createSegmindProvider({ baseUrl: short.url, apiKey: short.apiKey });
      const submitted = await p.submit(job('FACESWAP_V2'), never());
      if (submitted.kind !== 'accepted') throw new Error(submitted.kind);
      clock.advance(30); // the 10 ms of its two steps and the 20 ms of its retention have passed
      const outcome = await p.poll({ ...job('FACESWAP_V2'), upstreamRequestId: submitted.requestId, upstreamPollUrl: submitted.pollUrl }, never());
      expect(outcome).toMatchObject({ kind: 'failed', code: 'EXPIRED' });
    } finally {
      await short.close();
    }
  });

  it('does not send the key to a poll_url on a foreign host', async () => {
    const foreign = { ...job('BODY_SWAP'), upstreamRequestId: 'x', upstreamPollUrl: 'http://203.0.113.9/workflows/request/x' };
    expect(await provider.poll(foreign, never())).toMatchObject({ kind: 'failed', code: 'UPSTREAM_ERROR' });
  });
});

describe('transport', () => {
  it('honours the abort signal mid-request', async () => {
    // The upstream would answer only after a minute: ending well before that is the abort's doing.
    emu.injectFault({ match: { model: 'faceswap-v4' }, delayMs: 60_000 });
    const controller = new AbortController();
    const started = Date.now();
    setTimeout(() => controller.abort(), 50);
    await expect(provider.submit(job('FACESWAP_V4'), controller.signal)).rejects.toMatchObject({ name: 'AbortError' });
    expect(Date.now() - started).toBeLessThan(60_000);
  });

  it('does nothing with an already aborted signal', async () => {
    const before = emu.stats().attempts.total;
    const controller = new AbortController();
    controller.abort();
    await expect(provider.poll(await accepted(job('FACESWAP_V2')), controller.signal)).rejects.toMatchObject({ name: 'AbortError' });
    await expect(provider.submit(job('FACESWAP_V4'), controller.signal)).rejects.toMatchObject({ name: 'AbortError' });
    expect(emu.stats().attempts.total).toBe(before + 1);
  });

  it('a submit past the deadline is an unknown outcome, never resent (the upstream may be running it)', async () => {
    emu.injectFault({ match: { model: 'faceswap-comic' }, delayMs: 60_000 }); // far past the deadline, however late timers fire
    const impatient = createSegmindProvider({ baseUrl: emu.url, apiKey: emu.apiKey, requestTimeoutMs: 100 });
    const outcome = await impatient.submit(job('FACESWAP_COMIC'), never());
    expect(outcome).toMatchObject({ kind: 'failed', code: 'UPSTREAM_OUTCOME_UNKNOWN' });
    if (outcome.kind === 'failed') expect(outcome.message).toMatch(/timeout/);
  });

  it('a poll past the deadline is a retry', async () => {
    const queued = await accepted(job('FACESWAP_V2'));
    emu.injectFault({ match: { path: '/v2/requests/*' }, delayMs: 60_000 });
    const impatient = createSegmindProvider({ baseUrl: emu.url, apiKey: emu.apiKey, pollTimeoutMs: 100 });
    const outcome = await impatient.poll(queued, never());
    expect(outcome).toMatchObject({ kind: 'retry' });
    if (outcome.kind === 'retry') expect(outcome.reason).toMatch(/timeout/);
  });

  it('a refused connection is a retry', async () => {
    const port = await new Promise<number>((resolve) => {
      const probe = createServer().listen(0, '127.0.0.1', () => {
        const { port: free } = probe.address() as { port: number };
        probe.close(() => resolve(free));
      });
    });
    const nowhere = createSegmindProvider({ baseUrl: `http://127.0.0.1:${port}`, apiKey: 'k' });
    const outcome = await nowhere.submit(job('FACESWAP_V4'), never());
    expect(outcome).toMatchObject({ kind: 'retry' });
    if (outcome.kind === 'retry') expect(outcome.reason).toMatch(/ECONNREFUSED/);
    expect(await nowhere.poll({ ...job('FACESWAP_V2'), upstreamRequestId: 'r' }, never())).toMatchObject({ kind: 'retry' });
  });

  it('parses Retry-After forms', () => {
    const now = Date.parse('2026-01-01T00:00:00Z');
    expect(parseRetryAfter('12', now)).toBe(12_000);
    expect(parseRetryAfter('1.5', now)).toBe(1500);
    expect(parseRetryAfter('Thu, 01 Jan 2026 00:00:10 GMT', now)).toBe(10_000);
    expect(parseRetryAfter('Wed, 31 Dec 2025 00:00:00 GMT', now)).toBe(0);
    expect(parseRetryAfter('soon', now)).toBeUndefined();
    expect(parseRetryAfter(undefined, now)).toBeUndefined();
  });
});

describe('output downloads go through the guarded fetch', () => {
  // A stand-in upstream on loopback whose v1 answer names the output URL
  // `answerUrl`; the image is served by the upstream's own origin or by
  // another port of the same host, which only a public address may be.
  let upstream: HttpServer;
  let media: HttpServer;
  let upstreamUrl: string;
  let mediaUrl: string;
  let answerUrl = '';
  const mediaHits: string[] = [];
  let png: Buffer;

  const listen = async (server: HttpServer) => {
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  };

  beforeAll(async () => {
    png = await sharp({ create: { width: 4, height: 4, channels: 3, background: '#c00' } }).png().toBuffer();
    media = createHttpServer((req, res) => {
      mediaHits.push(req.url ?? '');
      res.writeHead(200, { 'content-type': 'image/png' });
      res.end(png);
    });
    mediaUrl = await listen(media);
    upstream = createHttpServer((req, res) => {
      if (req.url === '/v1/faceswap-v4') {
        res.writeHead(200, { 'content-type': 'application/json' });
        return res.end(JSON.stringify({ image: answerUrl }));
      }
      if (req.url === '/out.png') {
        res.writeHead(200, { 'content-type': 'image/png' });
        return res.end(png);
      }
      if (req.url === '/big.png') {
        res.writeHead(200, { 'content-type': 'image/png' });
        return res.end(Buffer.concat([png, Buffer.alloc(5000)]));
      }
      if (req.url === '/moved.png') {
        res.writeHead(302, { location: `${mediaUrl}/out.png` });
        return res.end();
      }
      res.writeHead(404);
      res.end();
    });
    upstreamUrl = await listen(upstream);
  });
  afterAll(async () => {
    for (const server of [upstream, media]) {
      server?.closeAllConnections();
      await new Promise((r) => server?.close(r));
    }
  });

  const submit = (url: string, opts: { maxOutputBytes?: number } = {}) => {
    answerUrl = url;
    return createSegmindProvider({ baseUrl: upstreamUrl, apiKey: 'k', ...opts }).submit(job('FACESWAP_V4'), never());
  };

  it("downloads from the upstream's own host:port, although it is loopback", async () => {
    const outcome = await submit(`${upstreamUrl}/out.png`);
    expect(outcome).toMatchObject({ kind: 'completed', output: { mimeType: 'image/png', upstream: { outputUrl: `${upstreamUrl}/out.png` } } });
  });

  it('refuses an output URL on another port of that host: UPSTREAM_ERROR, nothing fetched', async () => {
    const before = mediaHits.length;
    const outcome = await submit(`${mediaUrl}/out.png`);
    expect(outcome).toMatchObject({ kind: 'failed', code: 'UPSTREAM_ERROR', detail: { rule: 'private-address' } });
    if (outcome.kind === 'failed') expect(outcome.message).toMatch(/^refused to download the output from http:\/\/127\.0\.0\.1:\d+: refused: 127\.0\.0\.1 is loopback/);
    expect(mediaHits.length).toBe(before);
  });

  it('refuses a redirect from the upstream to another port', async () => {
    const before = mediaHits.length;
    expect(await submit(`${upstreamUrl}/moved.png`)).toMatchObject({ kind: 'failed', code: 'UPSTREAM_ERROR', detail: { rule: 'private-address' } });
    expect(mediaHits.length).toBe(before);
  });

  it('an output over the size limit fails without being kept', async () => {
    // The JSON answer fits in 1000 bytes; the image does not.
    expect(await submit(`${upstreamUrl}/out.png`, { maxOutputBytes: 1000 })).toMatchObject({ kind: 'completed' });
    expect(await submit(`${upstreamUrl}/big.png`, { maxOutputBytes: 1000 })).toMatchObject({
      kind: 'failed', code: 'UPSTREAM_ERROR', message: 'the output image exceeds the size limit',
    });
  });
});
