// What the API serves for the dashboard: the built page and script (gzip, CSP,
// nothing from elsewhere), the model forms derived from the specs, and
// server-made thumbnails with the same key rules as outputs.
import sharp from 'sharp';
import { gunzipSync } from 'node:zlib';
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildDashboard } from '../scripts/build-dashboard.mjs';
import { MODELS } from '../src/models/registry.js';
import { startTestApp, waitForFinal, type TestApp } from './support/app.js';
import { sampleAt } from './support/engine-samples.js';
import { SOURCE_URL, TARGET_URL } from './support/fixtures.js';

let t: TestApp;
beforeAll(async () => {
  await buildDashboard({ quiet: true });
  t = await startTestApp();
});
afterAll(async () => {
  await t?.close();
});

/** A GET with raw bytes back (fetch would undo the gzip). */
function get(path: string, headers: Record<string, string> = {}): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = request(`${t.url}${path}`, { headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
    req.end();
  });
}

const auth = (key = t.key) => ({ authorization: `Bearer ${key}` });

describe('the dashboard files', () => {
  it('serves the page at / with a CSP that allows only this origin', async () => {
    const res = await get('/');
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/text\/html/);
    expect(res.body.toString()).toContain('/assets/app.js');
    expect(res.headers['content-security-policy']).toContain("script-src 'self'");
    expect(res.body.toString()).not.toMatch(/https?:\/\//);
  });

  it('serves the script gzipped when asked, under 200 KB compressed, with an ETag answered by 304', async () => {
    const res = await get('/assets/app.js', { 'accept-encoding': 'gzip, br' });
    expect(res.status).toBe(200);
    expect(res.headers['content-encoding']).toBe('gzip');
    expect(res.body.length).toBeLessThan(200 * 1024);
    expect(gunzipSync(res.body).toString()).toContain('graphql-transport-ws');
    const again = await get('/assets/app.js', { 'if-none-match': String(res.headers.etag) });
    expect(again.status).toBe(304);
    const plain = await get('/assets/app.css');
    expect(plain.headers['content-encoding']).toBeUndefined();
    expect(plain.headers['content-type']).toMatch(/text\/css/);
  });

  it('still answers other paths with the JSON 404', async () => {
    const res = await get('/nope');
    expect(res.status).toBe(404);
    expect(JSON.parse(res.body.toString())).toEqual({ error: expect.stringContaining('/graphql') });
  });

  it('serves the model forms from the model specs: every model, enum, range and default', async () => {
    const forms = JSON.parse((await get('/ui/models.json')).body.toString());
    expect(forms.map((f: { key: string }) => f.key)).toEqual(MODELS.map((m) => m.key));
    const v4 = forms.find((f: { key: string }) => f.key === 'FACESWAP_V4');
    expect(v4.params.find((p: { name: string }) => p.name === 'imageQuality')).toMatchObject({ kind: 'int', wire: 'image_quality', min: 10, max: 100, default: 90 });
    expect(v4.params.find((p: { name: string }) => p.name === 'swapType')).toMatchObject({
      kind: 'enum', default: 'HEAD', values: expect.arrayContaining([{ name: 'FACE', wire: 'face' }]),
    });
    expect(v4.params.find((p: { name: string }) => p.name === 'seed')).toMatchObject({ kind: 'seed', min: 0, max: 2147483647 });
  });
});

describe('thumbnails', () => {
  let id = '';
  beforeAll(async () => {
    const photo = `data:image/jpeg;base64,${(await sampleAt(1, 900)).toString('base64')}`;
    const r = await t.gql(
      `mutation($input: CreateFaceswapV4JobInput!) { createFaceswapV4Job(input: $input) { ... on SwapJob { id } ... on UserError { message } } }`,
      { input: { sourceImage: photo, targetImage: TARGET_URL, provider: 'SEGMIND' } },
    );
    id = r.data.createFaceswapV4Job.id;
    expect(id).toBeTruthy();
    await waitForFinal(t, id);
  });

  it('of an inline input: a small WebP made on the server, the same bytes each time', async () => {
    const res = await get(`/thumbnails/${encodeURIComponent(id)}/sourceImage`, auth());
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('image/webp');
    const meta = await sharp(res.body).metadata();
    expect(Math.max(meta.width!, meta.height!)).toBe(320);
    const again = await get(`/thumbnails/${encodeURIComponent(id)}/sourceImage`, auth());
    expect(again.headers.etag).toBe(res.headers.etag);
    expect(again.body.equals(res.body)).toBe(true);
  });

  it('of the output', async () => {
    const res = await get(`/thumbnails/${encodeURIComponent(id)}/output`, auth());
    expect(res.status).toBe(200);
    const meta = await sharp(res.body).metadata();
    expect(meta.format).toBe('webp');
    expect(Math.max(meta.width!, meta.height!)).toBeLessThanOrEqual(320);
  });

  it('refuses without a key (401) and answers another key, a URL input, an unknown field or id with a 404', async () => {
    expect((await get(`/thumbnails/${encodeURIComponent(id)}/output`)).status).toBe(401);
    const other = await t.newKey('thumb-other');
    const foreign = await get(`/thumbnails/${encodeURIComponent(id)}/output`, auth(other));
    expect(foreign.status).toBe(404);
    expect(JSON.parse(foreign.body.toString())).toEqual({ error: 'No such thumbnail.' });
    const url = await get(`/thumbnails/${encodeURIComponent(id)}/targetImage`, auth());
    expect(url.status).toBe(404);
    expect(JSON.parse(url.body.toString()).error).toMatch(/no stored image/);
    expect((await get(`/thumbnails/${encodeURIComponent(id)}/nonsense`, auth())).status).toBe(404);
    expect((await get(`/thumbnails/not-an-id/output`, auth())).status).toBe(404);
    expect((await get(`/thumbnails/${encodeURIComponent(id)}`, auth())).status).toBe(404);
  });
});
