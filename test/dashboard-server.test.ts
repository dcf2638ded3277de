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
import { loadUrlSigningSecret } from '../src/db/url-signing-secret.js';
import { revokeApiKey } from '../src/services/api-keys.js';
import { UrlSigner } from '../src/util/url-signing.js';
import { thumbnailsServed } from '../src/util/metrics.js';
import { decodeJobId } from '../src/models/job-ids.js';

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

  it('of an inline input: a small JPEG made on the server, the same bytes each time', async () => {
    const res = await get(`/thumbnails/${encodeURIComponent(id)}/sourceImage`, auth());
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('image/jpeg');
    const meta = await sharp(res.body).metadata();
    // An input's preview is half an output's: the gallery shows it at half the size.
    expect(Math.max(meta.width!, meta.height!)).toBe(160);
    const again = await get(`/thumbnails/${encodeURIComponent(id)}/sourceImage`, auth());
    expect(again.headers.etag).toBe(res.headers.etag);
    expect(again.body.equals(res.body)).toBe(true);
  });

  it('shrinks an image once: another job with the same bytes, or this one after a restart, reads the stored thumbnail back', async () => {
    const first = await get(`/thumbnails/${encodeURIComponent(id)}/sourceImage`, auth());
    expect(first.status).toBe(200);
    const counts = async () => Object.fromEntries((await thumbnailsServed.get()).values.map((v) => [v.labels.how, v.value]));
    const before = await counts();
    // The same photo in a new job: this process has not served that job, so only the database knows.
    const photo = `data:image/jpeg;base64,${(await sampleAt(1, 900)).toString('base64')}`;
    const r = await t.gql(
      `mutation($input: CreateFaceswapV4JobInput!) { createFaceswapV4Job(input: $input) { ... on SwapJob { id } } }`,
      { input: { sourceImage: photo, targetImage: TARGET_URL, provider: 'SEGMIND' } },
    );
    const second = r.data.createFaceswapV4Job.id as string;
    const res = await get(`/thumbnails/${encodeURIComponent(second)}/sourceImage`, auth());
    expect(res.status).toBe(200);
    expect(res.body.equals(first.body)).toBe(true);
    expect(res.headers.etag).toBe(first.headers.etag);
    const after = await counts();
    expect(after.stored ?? 0).toBe((before.stored ?? 0) + 1);
    expect(after.made ?? 0).toBe(before.made ?? 0);
    // Recorded for the second job too, so erasing the first keeps the file.
    const { rows } = await t.app.db.pool.query(
      `SELECT count(DISTINCT key)::int AS keys, count(*)::int AS n FROM job_thumbnails j JOIN jobs ON jobs.id = j.job_id
        WHERE j.source = 'sourceImage' AND j.made_from LIKE '%:jpeg-q75-160' AND jobs.id = ANY($1::uuid[])`,
      [[decodeJobId(id, 'id').id, decodeJobId(second, 'id').id]],
    );
    expect(rows[0]).toEqual({ keys: 1, n: 2 });
  });

  it('many jobs asking at once for the same new image: shrunk once', async () => {
    const photo = `data:image/jpeg;base64,${(await sampleAt(2, 700)).toString('base64')}`;
    const ids = await Promise.all(Array.from({ length: 4 }, async () => {
      const r = await t.gql(
        `mutation($input: CreateFaceswapV4JobInput!) { createFaceswapV4Job(input: $input) { ... on SwapJob { id } } }`,
        { input: { sourceImage: photo, targetImage: TARGET_URL, provider: 'SEGMIND' } },
      );
      return r.data.createFaceswapV4Job.id as string;
    }));
    const made = async () => (await thumbnailsServed.get()).values.find((v) => v.labels.how === 'made')?.value ?? 0;
    const before = await made();
    const answers = await Promise.all(ids.map((job) => get(`/thumbnails/${encodeURIComponent(job)}/sourceImage`, auth())));
    expect(answers.map((a) => a.status)).toEqual([200, 200, 200, 200]);
    expect(new Set(answers.map((a) => a.headers.etag)).size).toBe(1);
    expect(await made()).toBe(before + 1);
  });

  it('of the output', async () => {
    const res = await get(`/thumbnails/${encodeURIComponent(id)}/output`, auth());
    expect(res.status).toBe(200);
    const meta = await sharp(res.body).metadata();
    expect(meta.format).toBe('jpeg');
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

describe('signed thumbnail links', () => {
  const photo = async (n: number) => `data:image/jpeg;base64,${(await sampleAt(n, 600)).toString('base64')}`;
  /** A finished job of `key` with an inline source and a URL target, and its thumbnail links. */
  async function jobWithLinks(key: string, n: number) {
    const r = await t.gql(
      `mutation($input: CreateFaceswapV4JobInput!) { createFaceswapV4Job(input: $input) { ... on SwapJob { id } ... on UserError { message } } }`,
      { input: { sourceImage: await photo(n), targetImage: TARGET_URL, provider: 'SEGMIND' } },
      key,
    );
    const id = r.data.createFaceswapV4Job.id as string;
    expect(id).toBeTruthy();
    await waitForFinal(t, id, { key });
    const q = await t.gql(
      `query($id: ID!) { job(id: $id) { output { thumbnailUrl } ... on FaceswapV4Job { sourceImage { thumbnailUrl } targetImage { source thumbnailUrl } } } }`,
      { id },
      key,
    );
    const job = q.data.job;
    return { id, output: job.output.thumbnailUrl as string, source: job.sourceImage.thumbnailUrl as string, target: job.targetImage };
  }
  const path = (link: string) => link.slice(t.url.length);
  const withParam = (link: string, name: string, value: string) => {
    const u = new URL(link);
    u.searchParams.set(name, value);
    return u.pathname + u.search;
  };
  const refusal = (res: { body: Buffer }) => JSON.parse(res.body.toString()).error as string;

  it('the API gives each stored image a link that loads without the Authorization header: the same bytes as with the key', async () => {
    const links = await jobWithLinks(t.key, 2);
    expect(links.output).toMatch(new RegExp(`^${t.url}/thumbnails/[^?]+/output\\?key=[0-9a-f-]+&expires=\\d+&signature=[\\w-]+$`));
    expect(links.source).toContain('/sourceImage?');
    // A URL input is shown from its own address: no thumbnail, no link.
    expect(links.target).toEqual({ source: 'URL', thumbnailUrl: null });
    for (const [field, link] of [['output', links.output], ['sourceImage', links.source]] as const) {
      const signed = await get(path(link));
      expect(signed.status).toBe(200);
      expect(signed.headers['content-type']).toBe('image/jpeg');
      const keyed = await get(`/thumbnails/${encodeURIComponent(links.id)}/${field}`, auth());
      expect(signed.body.equals(keyed.body)).toBe(true);
    }
    // Read again within the same quarter hour, the link is the same (the browser's cache holds).
    const again = await t.gql(`query($id: ID!) { job(id: $id) { output { thumbnailUrl } } }`, { id: links.id });
    const expires = (link: string) => Number(new URL(link).searchParams.get('expires'));
    expect(expires(again.data.job.output.thumbnailUrl) - expires(links.output)).toBeLessThanOrEqual(900);
    expect(expires(links.output) * 1000).toBeGreaterThanOrEqual(Date.now() + 3600_000 - 5_000);
  });

  it('refuses an altered link with 403, and a link is good for its own path only', async () => {
    const links = await jobWithLinks(t.key, 4);
    const signature = new URL(links.output).searchParams.get('signature')!;
    const flipped = (signature[0] === 'A' ? 'B' : 'A') + signature.slice(1);
    const altered = [
      withParam(links.output, 'signature', flipped),
      withParam(links.output, 'signature', ''),
      withParam(links.output, 'expires', String(Number(new URL(links.output).searchParams.get('expires')) + 86_400)),
      withParam(links.output, 'expires', 'soon'),
      withParam(links.output, 'key', '00000000-0000-4000-8000-000000000000'),
      // The output's query on the input's path.
      path(links.source).split('?')[0] + new URL(links.output).search,
    ];
    for (const link of altered) {
      const res = await get(link);
      expect(res.status, link).toBe(403);
      expect(refusal(res)).toBe('The signed link is not valid for this path (altered or truncated).');
    }
    // Unsigned and keyless is the usual 401.
    expect((await get(path(links.output).split('?')[0]!)).status).toBe(401);
  });

  it('refuses an expired link with 403 and says to read the URL again', async () => {
    const links = await jobWithLinks(t.key, 5);
    // Signed with the deployment's real secret, two hours ago.
    const signer = new UrlSigner(await loadUrlSigningSecret(t.app.db.pool));
    const u = new URL(links.output);
    const stale = signer.sign(u.pathname, u.searchParams.get('key')!, Date.now() - 2 * 3600_000);
    const res = await get(stale);
    expect(res.status).toBe(403);
    expect(refusal(res)).toBe('The signed link has expired; read the URL from the API again.');
    // The same signer's fresh link for that path is good: the secret is the one the API uses.
    expect((await get(signer.sign(u.pathname, u.searchParams.get('key')!))).status).toBe(200);
  });

  it('acts as its key: another key\'s job is a 404, and a revoked key\'s links stop working', async () => {
    const owner = await t.newKey('link-owner');
    const links = await jobWithLinks(owner, 6);
    expect((await get(path(links.output))).status).toBe(200);
    // A link correctly signed for another key, on this job's path: that key does not own the job.
    const signer = new UrlSigner(await loadUrlSigningSecret(t.app.db.pool));
    const otherKeyId = new URL((await jobWithLinks(t.key, 3)).output).searchParams.get('key')!;
    const foreign = await get(signer.sign(new URL(links.output).pathname, otherKeyId));
    expect(foreign.status).toBe(404);
    expect(refusal(foreign)).toBe('No such thumbnail.');
    await revokeApiKey(t.app.db.pool, new URL(links.output).searchParams.get('key')!);
    const revoked = await get(path(links.output));
    expect(revoked.status).toBe(403);
    expect(refusal(revoked)).toBe('The signed link\'s API key is revoked or expired.');
  });
});
