// The `local` provider: what it refuses (unsupportedOptions), what it records
// as not applied, and submissions through its engine pool with URL and
// base64 inputs.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { normaliseInput } from '../src/models/normalise.js';
import { MODELS, modelSpec } from '../src/models/registry.js';
import { parseAllowList } from '../src/net/allow-list.js';
import { createLocalProvider, notAppliedOptions, unsupportedOptions, type LocalProvider } from '../src/services/providers/local.js';
import type { ProviderJob } from '../src/services/providers/types.js';
import { faceless, sampleAt } from './support/engine-samples.js';

/** The normalised wire params (enum inputs are wire strings, as GraphQL resolves them) the worker would hand the provider (every default filled in). */
function wire(model: string, input: Record<string, unknown>): Record<string, unknown> {
  const res = normaliseInput(modelSpec(model), { sourceImage: 'https://example.com/s.jpg', targetImage: 'https://example.com/t.jpg', ...input }, { maxImageBytes: 10_000_000 });
  if (!res.ok) throw new Error(JSON.stringify(res.violations));
  return res.value.params;
}

describe('unsupportedOptions', () => {
  it('refuses the comic and body-swap models whole', () => {
    const wholeModels = MODELS.filter((m) => !m.local.runs).map((m) => m.key);
    expect(wholeModels).toEqual(['FACESWAP_COMIC', 'BODY_SWAP']);
    for (const model of wholeModels) {
      expect(unsupportedOptions(model, {})).toEqual([{ option: 'model', value: model, reason: expect.any(String) }]);
    }
  });

  it('accepts faceswap-v3 with its defaults, best effort for the detector choice', () => {
    const params = wire('FACESWAP_V3_MULTI', { faceDetection: 'YOLOv5n' });
    expect(unsupportedOptions('FACESWAP_V3_MULTI', params)).toEqual([]);
    expect(notAppliedOptions('FACESWAP_V3_MULTI', params).map((n) => n.option)).toContain('facedetection');
  });

  it('refuses v3 face restore models and gender filters, naming each option', () => {
    const params = wire('FACESWAP_V3_MULTI', { faceRestore: 'GFPGANv1.4.pth', detectGenderInput: 'female', detectGenderSource: 'no' });
    expect(unsupportedOptions('FACESWAP_V3_MULTI', params).map((u) => [u.option, u.value])).toEqual([
      ['face_restore', 'GFPGANv1.4.pth'],
      ['detect_gender_input', 'female'],
    ]);
  });

  it('refuses v4 head swap (its default) and accepts swap_type face', () => {
    expect(unsupportedOptions('FACESWAP_V4', wire('FACESWAP_V4', {}))).toEqual([{ option: 'swap_type', value: 'head', reason: expect.any(String) }]);
    const face = wire('FACESWAP_V4', { swapType: 'face', modelType: 'quality' });
    expect(unsupportedOptions('FACESWAP_V4', face)).toEqual([]);
    expect(notAppliedOptions('FACESWAP_V4', face).map((n) => n.option)).toEqual(['model_type', 'style_type', 'hardware']);
  });

  it('refuses a v2 face_restore only when the client chose it', () => {
    const params = wire('FACESWAP_V2', {});
    expect(params.face_restore).toBe('codeformer-v0.1.0.pth');
    expect(unsupportedOptions('FACESWAP_V2', params)).toEqual([]);
    expect(unsupportedOptions('FACESWAP_V2', params, new Set(['face_restore']))).toMatchObject([{ option: 'face_restore' }]);
    expect(notAppliedOptions('FACESWAP_V2', params)).toMatchObject([{ option: 'face_restore' }]);
  });
});

describe('submit through the engine pool', () => {
  let provider: LocalProvider;
  let server: Server;
  let base: string;
  let source: Buffer;
  let target: Buffer;

  beforeAll(async () => {
    [source, target] = await Promise.all([sampleAt(2, 640), sampleAt(6, 640)]);
    server = createServer((req, res) => {
      if (req.url === '/source.jpg') res.end(source);
      else { res.writeHead(404); res.end(); }
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const allowHosts = parseAllowList(`127.0.0.1:${(server.address() as AddressInfo).port}`, 'LOCAL_FETCH_ALLOW_HOSTS');
    provider = createLocalProvider({ poolSize: 1, fetch: { allowHosts, timeoutMs: 5_000 } });
    await provider.pool.ready();
  });

  afterAll(async () => {
    await provider?.close();
    server?.closeAllConnections();
    await new Promise((r) => server?.close(r));
  });

  const job = (model: string, params: Record<string, unknown>): ProviderJob => ({
    id: 'job-1', provider: 'local', model, params, upstreamRequestId: null, upstreamPollUrl: null,
  });
  const signal = new AbortController().signal;

  it('completes a faceswap-v3 job with a URL source and a base64 target, in the requested format', async () => {
    const params = wire('FACESWAP_V3_MULTI', {
      sourceImage: `${base}/source.jpg`, targetImage: target.toString('base64'),
      inputFacesIndex: '0,1', detectionFaceOrder: 'left-right', imageFormat: 'webp', imageQuality: 80,
    });
    const out = await provider.submit(job('FACESWAP_V3_MULTI', params), signal);
    if (out.kind !== 'completed') throw new Error(JSON.stringify(out));
    expect(out.output.mimeType).toBe('image/webp');
    expect((await sharp(out.output.bytes).metadata()).width).toBe(640);
    expect(out.output.upstream).toMatchObject({ provider: 'local', faces: { source: 3, target: 4 }, pairs: [{ source: 0, target: 0 }, { source: 0, target: 1 }] });
  });

  it('completes a faceswap-v4 face swap and records the options it did not apply', async () => {
    const params = wire('FACESWAP_V4', { sourceImage: source.toString('base64'), targetImage: target.toString('base64'), swapType: 'face', seed: 42 });
    const out = await provider.submit(job('FACESWAP_V4', params), signal);
    if (out.kind !== 'completed') throw new Error(JSON.stringify(out));
    expect(out.output.mimeType).toBe('image/png');
    expect((out.output.upstream.notApplied as Array<{ option: string }>).map((n) => n.option)).toContain('model_type');
  });

  it('fails a head swap as INVALID_INPUT without running the engine', async () => {
    const out = await provider.submit(job('FACESWAP_V4', wire('FACESWAP_V4', {})), signal);
    expect(out).toMatchObject({ kind: 'failed', code: 'INVALID_INPUT', message: expect.stringContaining('swap_type=head') });
  });

  it('fails NO_FACE_DETECTED and FACE_INDEX_OUT_OF_RANGE with their codes', async () => {
    const blank = (await faceless()).toString('base64');
    const noFace = await provider.submit(job('FACESWAP_V2', wire('FACESWAP_V2', { sourceImage: source.toString('base64'), targetImage: blank })), signal);
    expect(noFace).toMatchObject({ kind: 'failed', code: 'NO_FACE_DETECTED' });
    const range = await provider.submit(job('FACESWAP_V2', wire('FACESWAP_V2', { sourceImage: source.toString('base64'), targetImage: target.toString('base64'), inputFacesIndex: '4' })), signal);
    expect(range).toMatchObject({ kind: 'failed', code: 'FACE_INDEX_OUT_OF_RANGE' });
  });

  it('fails INVALID_INPUT for a private URL that is not allow-listed', async () => {
    const params = wire('FACESWAP_V2', { sourceImage: 'http://192.168.1.20/face.jpg', targetImage: target.toString('base64') });
    const out = await provider.submit(job('FACESWAP_V2', params), signal);
    expect(out).toMatchObject({ kind: 'failed', code: 'INVALID_INPUT', detail: { rule: 'private-address' } });
  });

  it('has nothing to poll', async () => {
    expect(await provider.poll(job('FACESWAP_V2', {}), signal)).toMatchObject({ kind: 'failed' });
  });
});
