// The emulator against the written contract (MODELS.md), over real HTTP.

import { createHash } from 'node:crypto';
import sharp from 'sharp';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { fingerprint, startEmulator, type Emulator } from '../src/emulator/index.js';
import { manualClock, waitUntil } from './support/wait.js';

const WORKFLOW = '/workflows/678b67a76426baad7e539337-v4';
const IMG_A = 'https://example.com/a.jpg';
const IMG_B = 'https://example.com/b.png';

let emu: Emulator;
let pngBase64: string;

beforeAll(async () => {
  emu = await startEmulator({ latencyMs: { queueStep: 40, workflowStep: 40 } });
  const png = await sharp({ create: { width: 4, height: 4, channels: 3, background: '#808080' } }).png().toBuffer();
  pngBase64 = png.toString('base64');
});
afterAll(() => emu.close());
afterEach(() => emu.clearFaults());

type Answer = { status: number; headers: Headers; bytes: Buffer; json: () => any };

async function call(
  method: string,
  path: string,
  opts: { body?: unknown; key?: string | null; bearer?: boolean; raw?: string; on?: Emulator } = {},
): Promise<Answer> {
  const target = opts.on ?? emu;
  const key = opts.key === undefined ? target.apiKey : opts.key;
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (key !== null) {
    if (opts.bearer) headers.authorization = `Bearer ${key}`;
    else headers['x-api-key'] = key;
  }
  const url = path.startsWith('http') ? path : target.url + path;
  const res = await fetch(url, { method, headers, body: opts.raw ?? (opts.body === undefined ? undefined : JSON.stringify(opts.body)) });
  const bytes = Buffer.from(await res.arrayBuffer());
  return { status: res.status, headers: res.headers, bytes, json: () => JSON.parse(bytes.toString('utf8')) };
}

const post = (path: string, body: unknown, opts: { key?: string | null; bearer?: boolean; on?: Emulator } = {}) => call('POST', path, { ...opts, body });
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

const v4 = (extra: Record<string, unknown> = {}) => ({ source_image: IMG_A, target_image: IMG_B, ...extra });
const v3 = (extra: Record<string, unknown> = {}) => ({ source_img: IMG_A, target_img: IMG_B, ...extra });
const comic = (extra: Record<string, unknown> = {}) => ({ source_image: IMG_A, target_image: IMG_B, ...extra });

async function waitFor(path: string, opts: { bearer?: boolean }, done: (a: Answer) => boolean): Promise<Answer> {
  let last: Answer | undefined;
  return waitUntil(
    async () => {
      last = await call('GET', path, opts);
      return done(last) && last;
    },
    () => `${path} never finished; last answer ${last?.status} ${last?.bytes.toString('utf8').slice(0, 200)}`,
    { everyMs: 10 },
  );
}

/** A second emulator on a manual clock, closed after `body`. */
async function withClockedEmulator(
  opts: Parameters<typeof startEmulator>[0],
  body: (e: Emulator, clock: ReturnType<typeof manualClock>) => Promise<void>,
): Promise<void> {
  const clock = manualClock();
  const e = await startEmulator({ ...opts, clock: clock.now });
  try {
    await body(e, clock);
  } finally {
    await e.close();
  }
}

describe('auth', () => {
  it('answers 401 without or with a wrong key', async () => {
    expect((await post('/v1/faceswap-v4', v4(), { key: null })).status).toBe(401);
    expect((await post('/v1/faceswap-v4', v4(), { key: 'wrong' })).status).toBe(401);
    expect((await post('/v2/faceswap-v2', v3(), { key: 'wrong' })).status).toBe(401);
  });

  it('wants a Bearer token on workflows and x-api-key elsewhere', async () => {
    expect((await post(WORKFLOW, {}, { bearer: false })).status).toBe(401);
    expect((await post(WORKFLOW, {}, { bearer: true })).status).toBe(200);
    expect((await post('/v1/faceswap-v4', v4(), { bearer: true })).status).toBe(401);
  });

  it('protects the v2 request endpoints', async () => {
    const { request_id } = (await post('/v2/faceswap-v2', v3())).json();
    expect((await call('GET', `/v2/requests/${request_id}/status`, { key: null })).status).toBe(401);
    expect((await call('GET', `/v2/requests/${request_id}`, { key: 'nope' })).status).toBe(401);
  });
});

describe('validation', () => {
  const cases: Array<[string, string, Record<string, unknown>, string]> = [
    // [what, path, body, field named]
    ['v4 missing source', '/v1/faceswap-v4', { target_image: IMG_B }, 'source_image'],
    ['v4 bad swap_type', '/v1/faceswap-v4', v4({ swap_type: 'body' }), 'swap_type'],
    ['v4 bad model_type', '/v1/faceswap-v4', v4({ model_type: 'fast' }), 'model_type'],
    ['v4 bad style_type', '/v1/faceswap-v4', v4({ style_type: 'anime' }), 'style_type'],
    ['v4 bad hardware', '/v1/faceswap-v4', v4({ hardware: 'gpu' }), 'hardware'],
    ['v4 quality below 10', '/v1/faceswap-v4', v4({ image_quality: 9 }), 'image_quality'],
    ['v4 quality above 100', '/v1/faceswap-v4', v4({ image_quality: 101 }), 'image_quality'],
    ['v4 seed as string', '/v1/faceswap-v4', v4({ seed: '42' }), 'seed'],
    ['v4 fractional seed', '/v1/faceswap-v4', v4({ seed: 4.5 }), 'seed'],
    ['v4 base64 as string', '/v1/faceswap-v4', v4({ base64: 'true' }), 'base64'],
    ['v4 bad format', '/v1/faceswap-v4', v4({ image_format: 'gif' }), 'image_format'],
    ['v4 camelCase wire name', '/v1/faceswap-v4', v4({ imageFormat: 'png' }), 'imageFormat'],
    ['v4 malformed image', '/v1/faceswap-v4', v4({ target_image: 'not an image' }), 'target_image'],
    ['v4 ftp image', '/v1/faceswap-v4', v4({ source_image: 'ftp://example.com/a.png' }), 'source_image'],
    ['v4 data uri of text', '/v1/faceswap-v4', v4({ source_image: `data:image/png;base64,${Buffer.from('hello world, not a picture').toString('base64')}` }), 'source_image'],
    ['v4 null image', '/v1/faceswap-v4', v4({ source_image: null }), 'source_image'],
    ['v3 missing target', '/v1/faceswap-v3-multifaceswap', { source_img: IMG_A }, 'target_img'],
    ['v3 malformed face list', '/v1/faceswap-v3-multifaceswap', v3({ input_faces_index: '0;1' }), 'input_faces_index'],
    ['v3 empty face list', '/v1/faceswap-v3-multifaceswap', v3({ source_faces_index: '' }), 'source_faces_index'],
    ['v3 numeric face list', '/v1/faceswap-v3-multifaceswap', v3({ source_faces_index: 0 }), 'source_faces_index'],
    ['v3 bad detection order', '/v1/faceswap-v3-multifaceswap', v3({ detection_face_order: 'front-back' }), 'detection_face_order'],
    ['v3 bad detector', '/v1/faceswap-v3-multifaceswap', v3({ facedetection: 'yolov5n' }), 'facedetection'],
    ['v3 bad gender', '/v1/faceswap-v3-multifaceswap', v3({ detect_gender_input: 'any' }), 'detect_gender_input'],
    ['v3 bad restore', '/v1/faceswap-v3-multifaceswap', v3({ face_restore: 'codeformer' }), 'face_restore'],
    ['v3 weight above 1', '/v1/faceswap-v3-multifaceswap', v3({ face_restore_weight: 1.5 }), 'face_restore_weight'],
    ['v3 bad interpolation', '/v1/faceswap-v3-multifaceswap', v3({ interpolation: 'bilinear' }), 'interpolation'],
    ['v2 sync missing source', '/v1/faceswap-v2', { target_img: IMG_B }, 'source_img'],
    ['v2 queue "disable" is not a v2 restore', '/v2/faceswap-v2', v3({ face_restore: 'disable' }), 'face_restore'],
    ['v2 queue malformed face list', '/v2/faceswap-v2', v3({ source_faces_index: 'a,b' }), 'source_faces_index'],
    ['v2 queue v3-only field', '/v2/faceswap-v2', v3({ image_format: 'png' }), 'image_format'],
    ['comic steps above 50', '/v1/faceswap-comic', comic({ steps: 51 }), 'steps'],
    ['comic cfg below 0.1', '/v1/faceswap-comic', comic({ cfg: 0.05 }), 'cfg'],
    ['comic style above 2', '/v1/faceswap-comic', comic({ style_strength: 2.5 }), 'style_strength'],
    ['comic face strength as string', '/v1/faceswap-comic', comic({ face_strength: '0.5' }), 'face_strength'],
    ['comic grow_mask above 100', '/v1/faceswap-comic', comic({ grow_mask: 101 }), 'grow_mask'],
    ['comic output_quality 0', '/v1/faceswap-comic', comic({ output_quality: 0 }), 'output_quality'],
    ['comic bad mask', '/v1/faceswap-comic', comic({ mask_image: 'mask' }), 'mask_image'],
    ['comic prompt not a string', '/v1/faceswap-comic', comic({ prompt: ['happy'] }), 'prompt'],
    ['comic uses image_format', '/v1/faceswap-comic', comic({ image_format: 'png' }), 'image_format'],
    ['body swap bad image', WORKFLOW, { character_image: 'nope' }, 'character_image'],
    ['body swap select_character type', WORKFLOW, { select_character: 5 }, 'select_character'],
  ];

  it.each(cases)('%s → 400 naming the field', async (_what, path, body, field) => {
    const a = await post(path, body, { bearer: path === WORKFLOW });
    expect(a.status).toBe(400);
    expect(a.json()).toMatchObject({ field });
    expect(a.json().error).toContain(field);
  });

  it('refuses bodies that are not a JSON object', async () => {
    expect((await call('POST', '/v1/faceswap-v4', { raw: '{not json' })).status).toBe(400);
    expect((await call('POST', '/v1/faceswap-v4', { raw: '[1,2]' })).status).toBe(400);
    expect((await call('POST', '/v1/faceswap-v4', { raw: '' })).status).toBe(400);
  });

  it('accepts every documented field, data: URIs and plain base64', async () => {
    const all = {
      source_img: `data:image/png;base64,${pngBase64}`,
      target_img: pngBase64,
      input_faces_index: '0,1,2',
      source_faces_index: '0, 1',
      detection_face_order: 'left-right',
      facedetection: 'retinaface_mobile0.25',
      detect_gender_input: 'female',
      detect_gender_source: 'male',
      face_restore: 'GFPGANv1.4.pth',
      face_restore_weight: 0,
      interpolation: 'Lanczos',
      image_format: 'webp',
      image_quality: 10,
      base64: false,
    };
    expect((await post('/v1/faceswap-v3-multifaceswap', all)).status).toBe(200);
    const c = comic({
      face_strength: 1, style_strength: 0, seed: 1, steps: 50, cfg: 10, prompt: 'happy',
      mask_image: IMG_A, grow_mask: 100, output_format: 'png', output_quality: 1, base64: false,
    });
    expect((await post('/v1/faceswap-comic', c)).status).toBe(200);
    const w = { reference_character_image: IMG_A, character_image: IMG_B, select_character: 'man' };
    expect((await post(WORKFLOW, w, { bearer: true })).status).toBe(200);
  });
});

describe('output', () => {
  it('is deterministic in the parameters and the seed', async () => {
    const a = await post('/v1/faceswap-v4', v4({ seed: 7 }));
    const b = await post('/v1/faceswap-v4', v4({ seed: 7 }));
    const c = await post('/v1/faceswap-v4', v4({ seed: 8 }));
    const d = await post('/v1/faceswap-v4', v4({ seed: 7, swap_type: 'face' }));
    expect(sha(a.bytes)).toBe(sha(b.bytes));
    expect(sha(a.bytes)).not.toBe(sha(c.bytes));
    expect(sha(a.bytes)).not.toBe(sha(d.bytes));
  });

  it('treats an explicit default like an omitted field, and ignores hardware and base64', async () => {
    const omitted = await post('/v1/faceswap-v4', v4());
    const explicit = await post('/v1/faceswap-v4', v4({ seed: 42, hardware: 'fast' }));
    const cost = await post('/v1/faceswap-v4', v4({ hardware: 'cost' }));
    const b64 = await post('/v1/faceswap-v4', v4({ base64: true }));
    expect(sha(explicit.bytes)).toBe(sha(omitted.bytes));
    expect(sha(cost.bytes)).toBe(sha(omitted.bytes));
    expect(b64.headers.get('content-type')).toContain('application/json');
    expect(sha(Buffer.from(b64.json().image, 'base64'))).toBe(sha(omitted.bytes));
  });

  it.each([
    ['/v1/faceswap-v4', v4(), 'png'],
    ['/v1/faceswap-v4', v4({ image_format: 'jpeg' }), 'jpeg'],
    ['/v1/faceswap-v4', v4({ image_format: 'webp' }), 'webp'],
    ['/v1/faceswap-v3-multifaceswap', v3(), 'jpeg'],
    ['/v1/faceswap-v3-multifaceswap', v3({ image_format: 'png' }), 'png'],
    ['/v1/faceswap-v2', v3(), 'jpeg'],
    ['/v1/faceswap-comic', comic(), 'jpeg'],
    ['/v1/faceswap-comic', comic({ output_format: 'webp' }), 'webp'],
  ] as const)('%s %j answers %s', async (path, body, format) => {
    const a = await post(path, body);
    expect(a.status).toBe(200);
    expect(a.headers.get('content-type')).toBe(`image/${format}`);
    const meta = await sharp(a.bytes).metadata();
    expect(meta.format).toBe(format);
    expect(meta.width).toBeGreaterThan(0);
    const magic = { png: '89504e47', jpeg: 'ffd8ff', webp: '52494646' }[format];
    expect(a.bytes.toString('hex').startsWith(magic)).toBe(true);
  });

  it('encodes with the requested quality', async () => {
    const low = await post('/v1/faceswap-v4', v4({ image_format: 'jpeg', image_quality: 10 }));
    const high = await post('/v1/faceswap-v4', v4({ image_format: 'jpeg', image_quality: 100 }));
    expect(low.bytes.length).toBeLessThan(high.bytes.length);
  });
});

describe('v2 queue', () => {
  it('moves QUEUED → PROCESSING → COMPLETED and serves the result and its media', async () => {
    await withClockedEmulator({ latencyMs: { queueStep: 40 } }, async (e, clock) => {
      const submit = await post('/v2/faceswap-v2', v3({ face_restore: 'GFPGANv1.3.pth' }), { on: e });
      expect(submit.status).toBe(200);
      const { request_id, status_url, response_url } = submit.json();
      expect(status_url).toBe(`${e.url}/v2/requests/${request_id}/status`);
      expect(response_url).toBe(`${e.url}/v2/requests/${request_id}`);

      const statusNow = async () => (await call('GET', status_url, { on: e })).json().status;
      expect(await statusNow()).toBe('QUEUED');
      expect((await call('GET', response_url, { on: e })).status).toBe(202);
      clock.advance(40);
      expect(await statusNow()).toBe('PROCESSING');
      expect((await call('GET', response_url, { on: e })).status).toBe(202);
      clock.advance(40);
      expect(await statusNow()).toBe('COMPLETED');

      const result = await call('GET', response_url, { on: e });
      expect(result.status).toBe(200);
      const body = result.json();
      expect(body).toMatchObject({ status: 'COMPLETED', metrics: { inference_time: expect.any(Number) } });
      expect(body.output).toMatch(new RegExp(`^${e.url}/outputs/.+\\.jpeg$`));
      const media = await call('GET', body.output, { key: null, on: e });
      expect(media.status).toBe(200);
      expect((await sharp(media.bytes).metadata()).format).toBe('jpeg');
    });
  });

  it('answers base64 output when asked', async () => {
    const { request_id } = (await post('/v2/faceswap-v2', v3({ base64: true }))).json();
    const result = await waitFor(`/v2/requests/${request_id}`, {}, (a) => a.status !== 202);
    const bytes = Buffer.from(result.json().output, 'base64');
    expect((await sharp(bytes).metadata()).format).toBe('jpeg');
  });

  it('serves an injected FAILED as 422 on status and result', async () => {
    emu.injectFault({ match: { model: 'faceswap-v2' }, outcome: 'FAILED', error: 'content blocked by RAI policy' });
    const { request_id } = (await post('/v2/faceswap-v2', v3())).json();
    const status = await waitFor(`/v2/requests/${request_id}/status`, {}, (a) => a.status === 422);
    expect(status.json()).toEqual({ status: 'FAILED', error: 'content blocked by RAI policy' });
    const result = await call('GET', `/v2/requests/${request_id}`);
    expect(result.status).toBe(422);
    expect(result.json().error).toContain('RAI');
    // The fault was used up: the next request completes.
    const next = (await post('/v2/faceswap-v2', v3())).json();
    expect((await waitFor(next.status_url, {}, (a) => a.json().status !== 'QUEUED' && a.json().status !== 'PROCESSING')).status).toBe(200);
  });

  it('answers 404 for unknown ids and unknown media', async () => {
    expect((await call('GET', '/v2/requests/nope/status')).status).toBe(404);
    expect((await call('GET', '/v2/requests/nope')).status).toBe(404);
    expect((await call('GET', '/outputs/nope.png', { key: null })).status).toBe(404);
  });

  it('forgets requests and media after the retention time', async () => {
    await withClockedEmulator({ retentionMs: 60, latencyMs: { queueStep: 5 } }, async (short, clock) => {
      const get = (url: string) => fetch(url, { headers: { 'x-api-key': short.apiKey } });
      const submit = await fetch(`${short.url}/v2/faceswap-v2`, {
        method: 'POST',
        headers: { 'x-api-key': short.apiKey, 'content-type': 'application/json' },
        body: JSON.stringify(v3()),
      });
      const { request_id } = (await submit.json()) as { request_id: string };
      clock.advance(15); // past QUEUED and PROCESSING (5 ms each)
      const result = await get(`${short.url}/v2/requests/${request_id}`);
      expect(result.status).toBe(200);
      const { output } = (await result.json()) as { output: string };
      expect((await fetch(output)).status).toBe(200);
      clock.advance(54); // 69 ms: 1 ms before the retention ends (10 + 60)
      expect((await get(`${short.url}/v2/requests/${request_id}/status`)).status).toBe(200);
      clock.advance(1);
      expect((await get(`${short.url}/v2/requests/${request_id}/status`)).status).toBe(404);
      expect((await get(`${short.url}/v2/requests/${request_id}`)).status).toBe(404);
      expect((await fetch(output)).status).toBe(404);
    });
  });

  it('forgets every request at once on forgetRequests', async () => {
    const { request_id } = (await post('/v2/faceswap-v2', v3())).json();
    const result = await waitFor(`/v2/requests/${request_id}`, {}, (a) => a.status === 200);
    const output = result.json().output as string;
    emu.forgetRequests();
    expect((await call('GET', `/v2/requests/${request_id}/status`)).status).toBe(404);
    expect((await fetch(output)).status).toBe(404);
  });

  it('paced by polls, keeps each state until a poll has reported it, however late the polls come', async () => {
    await withClockedEmulator({ pacedByPolls: true, latencyMs: { queueStep: 10, workflowStep: 10 } }, async (paced, clock) => {
      const headers = { 'x-api-key': paced.apiKey, 'content-type': 'application/json' };
      const poll = async (url: string, init: RequestInit = {}) => ((await (await fetch(url, { ...init, headers })).json()) as { status: string }).status;
      const { status_url } = (await (await fetch(`${paced.url}/v2/faceswap-v2`, { method: 'POST', headers, body: JSON.stringify(v3()) })).json()) as { status_url: string };
      clock.advance(1_000); // far past both steps by the clock alone
      expect(await poll(status_url)).toBe('QUEUED'); // never reported yet
      expect(await poll(status_url)).toBe('PROCESSING'); // QUEUED was reported and its time is up
      expect(await poll(status_url)).toBe('PROCESSING'); // its own time starts when it is entered
      clock.advance(10);
      expect(await poll(status_url)).toBe('COMPLETED');
    });
  });
});

describe('workflow', () => {
  it('polls to COMPLETED with the outputs as a JSON string', async () => {
    const submit = await post(WORKFLOW, { select_character: 'man' }, { bearer: true });
    const body = submit.json();
    expect(body).toMatchObject({ status: 'QUEUED', request_id: expect.any(String) });
    expect(body.poll_url.startsWith(emu.url)).toBe(true);
    expect((await call('GET', body.poll_url, { bearer: false })).status).toBe(401);

    const done = await waitFor(body.poll_url, { bearer: true }, (a) => a.json().status === 'COMPLETED');
    const output = done.json().output;
    expect(typeof output).toBe('string');
    const parsed = JSON.parse(output);
    const media = await call('GET', parsed.image, { key: null });
    expect(media.status).toBe(200);
    expect((await sharp(media.bytes).metadata()).format).toBe('png');
  });

  it('reports an injected failure as status FAILED with the error', async () => {
    emu.injectFault({ match: { model: 'ai-body-swap' }, outcome: 'FAILED', error: 'NSFW content detected' });
    const { poll_url } = (await post(WORKFLOW, {}, { bearer: true })).json();
    const done = await waitFor(poll_url, { bearer: true }, (a) => a.json().status === 'FAILED');
    expect(done.status).toBe(200);
    expect(done.json().error).toBe('NSFW content detected');
  });

  it('answers 404 for an unknown poll id', async () => {
    expect((await call('GET', '/workflows/request/nope', { bearer: true })).status).toBe(404);
  });
});

describe('routing and limits', () => {
  it('answers 404 for unknown models and paths, 405 for wrong methods', async () => {
    expect((await post('/v1/faceswap-v9', v4())).status).toBe(404);
    expect((await post('/workflows/000000000000000000000000-v1', {}, { bearer: true })).status).toBe(404);
    expect((await call('GET', '/v1/faceswap-v4')).status).toBe(405);
  });

  it('refuses a body over the limit with 413', async () => {
    const small = await startEmulator({ maxBodyBytes: 1024 });
    try {
      const res = await fetch(`${small.url}/v1/faceswap-v4`, {
        method: 'POST',
        headers: { 'x-api-key': small.apiKey, 'content-type': 'application/json' },
        body: JSON.stringify(v4({ prompt: 'x'.repeat(4096) })),
      });
      expect(res.status).toBe(413);
    } finally {
      await small.close();
    }
  });
});

describe('fault injection over HTTP, and stats', () => {
  it('serves injected errors with Retry-After, then recovers', async () => {
    const added = await call('POST', '/__emulator/faults', {
      body: { match: { model: 'faceswap-v4' }, times: 2, response: { status: 429, retryAfterSeconds: 3 } },
    });
    expect(added.status).toBe(201);
    expect((await call('GET', '/__emulator/faults')).json().faults).toHaveLength(1);
    for (let i = 0; i < 2; i++) {
      const a = await post('/v1/faceswap-v4', v4());
      expect(a.status).toBe(429);
      expect(a.headers.get('retry-after')).toBe('3');
      expect(a.json().error).toMatch(/rate/i);
    }
    expect((await post('/v1/faceswap-v4', v4())).status).toBe(200);
  });

  it('matches on path and model, and clears over HTTP', async () => {
    await call('POST', '/__emulator/faults', {
      body: [
        { match: { path: '/v1/faceswap-comic' }, response: { status: 502, body: { error: 'upstream gone' } } },
        { match: { model: 'faceswap-v2', path: '/v2/requests/*' }, times: 'always', response: { status: 500 } },
      ],
    });
    expect((await post('/v1/faceswap-v4', v4())).status).toBe(200);
    const comicAnswer = await post('/v1/faceswap-comic', comic());
    expect(comicAnswer.status).toBe(502);
    expect(comicAnswer.json()).toEqual({ error: 'upstream gone' });
    const { request_id } = (await post('/v2/faceswap-v2', v3())).json();
    expect((await call('GET', `/v2/requests/${request_id}/status`)).status).toBe(500);
    expect((await call('GET', `/v2/requests/${request_id}/status`)).status).toBe(500);
    expect((await call('DELETE', '/__emulator/faults')).status).toBe(204);
    expect((await call('GET', `/v2/requests/${request_id}/status`)).status).toBe(200);
  });

  it('injects an async outcome over HTTP', async () => {
    await call('POST', '/__emulator/faults', { body: { match: { model: 'faceswap-v2' }, outcome: 'FAILED', error: 'boom' } });
    const { status_url } = (await post('/v2/faceswap-v2', v3())).json();
    const failed = await waitFor(status_url, {}, (a) => a.status === 422);
    expect(failed.json().error).toBe('boom');
  });

  it('refuses malformed faults', async () => {
    expect((await call('POST', '/__emulator/faults', { body: { match: { model: 'faceswap-v9' }, response: { status: 500 } } })).status).toBe(400);
    expect((await call('POST', '/__emulator/faults', { body: { match: {} } })).status).toBe(400);
    expect(() => emu.injectFault({ outcome: 'FAILED', times: 0 })).toThrow();
  });

  it('counts submissions per model, attempts, and polls per request', async () => {
    expect((await call('DELETE', '/__emulator/stats')).status).toBe(204);
    await post('/v1/faceswap-v4', v4());
    await post('/v1/faceswap-v4', v4({ seed: 1 }));
    await post('/v1/faceswap-v4', v4({ swap_type: 'nope' })); // refused: an attempt, not a submission
    const { request_id } = (await post('/v2/faceswap-v2', v3())).json();
    await call('GET', `/v2/requests/${request_id}/status`);
    await call('GET', `/v2/requests/${request_id}/status`);

    const stats = (await call('GET', '/__emulator/stats')).json();
    expect(stats.submissions).toEqual({ total: 3, byModel: { 'faceswap-v4': 2, 'faceswap-v2': 1 } });
    expect(stats.attempts).toEqual({ total: 4, byModel: { 'faceswap-v4': 3, 'faceswap-v2': 1 } });
    expect(stats.requests[request_id]).toEqual({ model: 'faceswap-v2', mode: 'queue', submissions: 1, polls: 2 });
    expect(emu.stats()).toEqual(stats);
  });
});

describe('rate-based, dropped-connection and slow-processing faults; call log', () => {
  const statuses = async (e: Emulator, n: number) => {
    const out: number[] = [];
    for (let i = 0; i < n; i++) {
      const res = await fetch(`${e.url}/v1/faceswap-v4`, {
        method: 'POST',
        headers: { 'x-api-key': e.apiKey, 'content-type': 'application/json' },
        body: JSON.stringify(v4({ seed: i })),
      });
      await res.arrayBuffer();
      out.push(res.status);
    }
    return out;
  };

  it('a probabilistic fault hits about that share of requests, the same ones for the same seed', async () => {
    const fault = { match: { model: 'faceswap-v4' }, probability: 0.3, response: { status: 503 as const } };
    const runs: number[][] = [];
    for (const seed of [7, 7, 8]) {
      const e = await startEmulator({ faultSeed: seed });
      try {
        e.injectFault(fault); // `times` defaults to 'always' with a probability
        runs.push(await statuses(e, 60));
        expect(e.stats().faultsServed).toBe(runs.at(-1)!.filter((s) => s === 503).length);
      } finally {
        await e.close();
      }
    }
    const hits = runs[0]!.filter((s) => s === 503).length;
    expect(hits).toBeGreaterThan(6);
    expect(hits).toBeLessThan(30);
    expect(runs[0]!.every((s) => s === 200 || s === 503)).toBe(true);
    expect(runs[1]).toEqual(runs[0]); // same seed, same draws
    expect(runs[2]).not.toEqual(runs[0]);
    // A fault's own seed wins over the emulator's, and `times` caps the hits.
    const e = await startEmulator({ faultSeed: 1 });
    try {
      e.injectFault({ ...fault, probability: 0.5, seed: 42, times: 3 });
      const capped = await statuses(e, 40);
      expect(capped.filter((s) => s === 503)).toHaveLength(3);
    } finally {
      await e.close();
    }
  });

  it('drops a connection without answering and without serving the request', async () => {
    emu.resetStats();
    emu.injectFault({ match: { model: 'faceswap-v2', method: 'POST' }, drop: true });
    await expect(post('/v2/faceswap-v2', v3())).rejects.toThrow();
    const after = (await post('/v2/faceswap-v2', v3())).json();
    expect(after.request_id).toEqual(expect.any(String));
    const stats = emu.stats();
    expect(stats.attempts.total).toBe(2);
    expect(stats.submissions.total).toBe(1);
    expect(stats.calls.map((c) => [c.kind, c.status, c.fault])).toEqual([
      ['submit', null, 'drop'],
      ['submit', 200, undefined],
    ]);
    expect(stats.calls[1]!.requestId).toBe(after.request_id);
    // A hang that ends in a reset: held first, then dropped.
    emu.injectFault({ match: { path: '/v1/faceswap-v4' }, delayMs: 80, drop: true });
    const started = Date.now();
    await expect(post('/v1/faceswap-v4', v4())).rejects.toThrow();
    expect(Date.now() - started).toBeGreaterThanOrEqual(70);
  });

  it('makes an async request slow to process, on the queue and on workflows', async () => {
    await withClockedEmulator({ latencyMs: { queueStep: 40, workflowStep: 40 } }, async (slow, clock) => {
      const req = (method: string, url: string, body?: unknown, bearer = false) =>
        fetch(url.startsWith('http') ? url : slow.url + url, {
          method,
          headers: { ...(bearer ? { authorization: `Bearer ${slow.apiKey}` } : { 'x-api-key': slow.apiKey }), 'content-type': 'application/json' },
          body: body === undefined ? undefined : JSON.stringify(body),
        });
      const json = async (r: Promise<Response>) => (await r).json() as Promise<any>;
      slow.injectFault({ match: { model: 'faceswap-v2' }, processingMs: 400 });
      slow.injectFault({ match: { model: 'ai-body-swap' }, processingMs: 400 });
      const queued = await json(req('POST', '/v2/faceswap-v2', v3()));
      const flow = await json(req('POST', WORKFLOW, {}, true));
      const normal = await json(req('POST', '/v2/faceswap-v2', v3())); // used up: back to the default step
      clock.advance(150); // past QUEUED (40 ms) and a default PROCESSING (40 ms)
      expect((await json(req('GET', `/v2/requests/${queued.request_id}/status`))).status).toBe('PROCESSING');
      expect((await json(req('GET', flow.poll_url, undefined, true))).status).toBe('PROCESSING');
      expect((await json(req('GET', `/v2/requests/${normal.request_id}/status`))).status).toBe('COMPLETED');
      clock.advance(289); // 439 ms: 1 ms before QUEUED + the slow PROCESSING end
      expect((await json(req('GET', `/v2/requests/${queued.request_id}/status`))).status).toBe('PROCESSING');
      clock.advance(1);
      const done = await req('GET', `/v2/requests/${queued.request_id}`);
      expect(done.status).toBe(200);
      expect(((await done.json()) as any).metrics.inference_time).toBe(0.4);
      expect((await json(req('GET', flow.poll_url, undefined, true))).status).toBe('COMPLETED');
      // Slow and then FAILED, in one fault.
      slow.injectFault({ match: { model: 'faceswap-v2' }, processingMs: 400, outcome: 'FAILED', error: 'NSFW' });
      const failing = await json(req('POST', '/v2/faceswap-v2', v3()));
      clock.advance(150);
      expect((await json(req('GET', `/v2/requests/${failing.request_id}/status`))).status).toBe('PROCESSING');
      clock.advance(290);
      const failed = await req('GET', `/v2/requests/${failing.request_id}/status`);
      expect(failed.status).toBe(422);
      expect(((await failed.json()) as any).error).toBe('NSFW');
    });
  });

  it('logs every call with its time, status and fingerprint, and the most in flight at once', async () => {
    emu.resetStats();
    const before = Date.now();
    emu.injectFault({ match: { model: 'faceswap-v4' }, times: 3, delayMs: 100 });
    const bodies = [v4({ seed: 1 }), v4({ seed: 2 }), v4({ seed: 3 })];
    const answers = await Promise.all(bodies.map((b) => post('/v1/faceswap-v4', b)));
    expect(answers.map((a) => a.status)).toEqual([200, 200, 200]);
    const stats = emu.stats();
    expect(stats.maxInFlight).toBe(3);
    expect(stats.inFlight).toBe(0);
    expect(stats.calls).toHaveLength(3);
    for (const c of stats.calls) {
      expect(c).toMatchObject({ method: 'POST', path: '/v1/faceswap-v4', kind: 'submit', model: 'faceswap-v4', status: 200, fault: 'delay' });
      expect(c.ms).toBeGreaterThanOrEqual(90);
      expect(c.at).toBeGreaterThanOrEqual(before);
      expect(c.at).toBeLessThanOrEqual(Date.now());
    }
    // The fingerprint ignores key order: a test can count submissions per job from its parameters.
    const reordered = Object.fromEntries(Object.entries(bodies[0]!).reverse());
    expect(stats.submissionsByFingerprint[fingerprint(reordered)]).toBe(1);
    expect(Object.values(stats.submissionsByFingerprint)).toEqual([1, 1, 1]);
    expect(new Set(stats.calls.map((c) => c.fingerprint))).toEqual(new Set(bodies.map((b) => fingerprint(b))));
    emu.resetStats();
    expect(emu.stats().maxInFlight).toBe(0);
  });

  it('refuses malformed rate, drop and slow faults', () => {
    expect(() => emu.injectFault({ probability: 0, response: { status: 500 } })).toThrow(/probability/);
    expect(() => emu.injectFault({ probability: 1.5, response: { status: 500 } })).toThrow(/probability/);
    expect(() => emu.injectFault({ drop: true, response: { status: 500 } })).toThrow(/dropped/);
    expect(() => emu.injectFault({ processingMs: -1 })).toThrow(/processingMs/);
    expect(() => emu.injectFault({ processingMs: 10, delayMs: 10 } as never)).toThrow(/either/);
  });
});

describe('credits', () => {
  it('bills each accepted run its price, reports the balance in dollars, and answers 406 when it runs out', async () => {
    emu.setCreditsMicros(100_000); // $0.10
    const before = await call('GET', '/v1/get-user-credits');
    expect(before.status).toBe(200);
    expect(before.json()).toEqual({ credits: 0.1, 'free-credits': 0 });
    expect((await call('GET', '/v1/get-user-credits', { key: null })).status).toBe(401);

    expect((await post('/v1/faceswap-comic', { source_image: IMG_A, target_image: IMG_B })).status).toBe(200); // $0.065
    expect(emu.creditsMicros()).toBe(35_000);
    const refused = await post('/v1/faceswap-comic', { source_image: IMG_A, target_image: IMG_B });
    expect(refused.status).toBe(406);
    expect(refused.json().error).toMatch(/Insufficient Credits/);
    expect(emu.creditsMicros()).toBe(35_000);
    // A refused body costs nothing.
    expect((await post('/v1/faceswap-v4', { source_image: IMG_A })).status).toBe(400);
    expect(emu.creditsMicros()).toBe(35_000);
    expect((await post('/v1/faceswap-v4', { source_image: IMG_A, target_image: IMG_B, hardware: 'cost' })).status).toBe(200); // $0.02
    expect((await call('GET', '/v1/get-user-credits')).json().credits).toBe(0.015);
  });

  it('sets the balance through the control API, refusing a bad body', async () => {
    const ok = await call('PUT', '/__emulator/credits', { body: { micros: 5_000_000 } });
    expect(ok.status).toBe(200);
    expect(emu.creditsMicros()).toBe(5_000_000);
    for (const body of [{ micros: -1 }, { micros: 1.5 }, {}]) {
      expect((await call('PUT', '/__emulator/credits', { body })).status).toBe(400);
    }
    expect(emu.creditsMicros()).toBe(5_000_000);
    emu.setCreditsMicros(1_000_000_000);
  });
});
