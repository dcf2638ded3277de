// The dashboard in a real headless Chromium against the real API, local engine
// and emulator: sign in, a LOCAL swap of two sample faces through the form,
// watched to COMPLETED without a reload, its output loaded, a rerun REPRODUCED,
// a validation message at its field, the spend chart, and key isolation. Saves
// the screenshots the README shows (docs/images/dashboard-*.png).
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page, Request } from 'playwright-core';
import { buildDashboard } from '../scripts/build-dashboard.mjs';
import { startTestApp, waitForFinal, type TestApp } from './support/app.js';
import { findChromium, launchChromium } from './support/browser.js';
import { samplePath } from './support/engine-samples.js';
import { SOURCE_URL, TARGET_URL } from './support/fixtures.js';
import { PATIENCE_MS, waitUntil } from './support/wait.js';

const chromiumPath = findChromium();
if (!chromiumPath) {
  console.warn('\n!!! NO CHROMIUM: the dashboard browser tests are SKIPPED. Install the Debian `chromium` package (.ci/run does) or set CHROMIUM_PATH. !!!\n');
}

const SHOTS = 'docs/images';
// The first local swap loads the engine's models on a possibly busy machine.
const ENGINE_MS = PATIENCE_MS * 4;

let t: TestApp;
let browser: Browser;
let page: Page;
const problems: string[] = [];
const foreign: string[] = [];

async function text(selector: string): Promise<string> {
  return (await page.locator(selector).first().textContent()) ?? '';
}

async function waitText(selector: string, want: string | RegExp, timeout = PATIENCE_MS): Promise<void> {
  await page.waitForFunction(
    ([sel, source, isRegex]) => {
      const el = (globalThis as any).document.querySelector(sel as string);
      const got = el?.textContent ?? '';
      return isRegex ? new RegExp(source as string).test(got) : got.includes(source as string);
    },
    [selector, want instanceof RegExp ? want.source : want, want instanceof RegExp] as const,
    { timeout },
  ).catch(async (err: Error) => {
    const seen = await page.locator(selector).first().textContent({ timeout: 1000 }).catch(() => '(no such element)');
    throw new Error(`${selector} never showed ${String(want)}; it shows ${JSON.stringify(seen?.slice(0, 300))} (${err.message.split('\n')[0]})`);
  });
}

async function signInWith(key: string): Promise<void> {
  await page.goto(`${t.url}/`);
  await page.locator('#api-key').fill(key);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { name: 'History' }).waitFor({ timeout: PATIENCE_MS });
}

describe.skipIf(!chromiumPath)('the dashboard in headless Chromium', () => {
  beforeAll(async () => {
    await buildDashboard({ quiet: true });
    t = await startTestApp({
      env: {
        SWAPYARD_PROVIDER: '', LOCAL_ENGINE_THREADS: '1',
        // Webhooks to a receiver on loopback, sent at once, retried only by hand within the test's time.
        WEBHOOK_ALLOW_PRIVATE: 'true', WEBHOOK_IDLE_POLL_MS: '50', WEBHOOK_RETRY_SCHEDULE_MS: '600000',
      },
    });
    browser = await launchChromium(chromiumPath!);
    page = await browser.newPage({ viewport: { width: 1280, height: 860 } });
    page.on('pageerror', (err) => problems.push(`pageerror: ${err.message}`));
    page.on('console', (msg) => {
      if (msg.type() === 'error') problems.push(`console: ${msg.text()} (${msg.location().url})`);
    });
    page.on('request', (req) => {
      const url = req.url();
      if (!url.startsWith(t.url) && !url.startsWith('blob:') && !url.startsWith('data:') && !url.startsWith(t.url.replace('http', 'ws'))) foreign.push(url);
    });
  });
  afterAll(async () => {
    await browser?.close();
    await t?.close();
  });

  let localJobId = '';

  it('signs in, submits a LOCAL swap of two sample faces and watches it reach COMPLETED without a reload', async () => {
    await signInWith(t.key);
    await page.goto(`${t.url}/#/new/FACESWAP_V3_MULTI`);
    await page.locator('#provider').selectOption('LOCAL');
    await page.locator('#field-sourceImage-file').setInputFiles(samplePath(6));
    await page.locator('#field-targetImage-file').setInputFiles(samplePath(3));
    await page.locator('#field-sourceFacesIndex').fill('2');
    await page.locator('#field-inputFacesIndex').fill('1');
    await page.locator('#field-imageFormat').selectOption('JPEG');
    await page.screenshot({ path: `${SHOTS}/dashboard-new-swap.png`, fullPage: true });
    await page.evaluate(() => { (globalThis as any).marker = 42; });
    await page.getByRole('button', { name: 'Create swap' }).click();
    await page.waitForURL(/#\/jobs\//, { timeout: PATIENCE_MS });
    localJobId = decodeURIComponent(page.url().split('#/jobs/')[1]!);
    await waitText('#job-status', 'COMPLETED', ENGINE_MS);
    // The same document all along: the status arrived over the subscription.
    expect(await page.evaluate(() => (globalThis as any).marker)).toBe(42);
    const api = await t.gql(`query($id: ID!) { job(id: $id) { status provider output { width height } } }`, { id: localJobId });
    expect(api.data.job).toMatchObject({ status: 'COMPLETED', provider: 'LOCAL' });

    // The output image loads at its full size.
    const img = page.locator('#output-image');
    await img.waitFor({ timeout: PATIENCE_MS });
    await page.waitForFunction(() => ((globalThis as any).document.querySelector('#output-image'))?.complete === true);
    const natural = await img.evaluate((el: any) => ({ width: el.naturalWidth, height: el.naturalHeight }));
    expect(natural).toEqual(api.data.job.output);
    expect(natural.width).toBeGreaterThan(0);
  });

  it('reruns the job and shows REPRODUCED', async () => {
    expect(localJobId).not.toBe('');
    await page.goto(`${t.url}/#/jobs/${encodeURIComponent(localJobId)}`);
    await waitText('#job-status', 'COMPLETED');
    await page.getByRole('button', { name: 'Rerun', exact: true }).click();
    await page.waitForURL((url) => url.hash.startsWith('#/jobs/') && !url.hash.includes(encodeURIComponent(localJobId)), { timeout: PATIENCE_MS });
    await waitText('#job-status', 'COMPLETED', ENGINE_MS);
    await waitText('.title-row .badge', 'REPRODUCED');
    await page.locator('#output-image').waitFor();
    await page.waitForFunction(() => (((globalThis as any).document.querySelector('#output-image'))?.naturalWidth ?? 0) > 0);
    await page.screenshot({ path: `${SHOTS}/dashboard-job.png`, fullPage: true });
  });

  it('shows a new job in the gallery live, and its status change, without a reload', async () => {
    await page.goto(`${t.url}/#/`);
    await page.locator('.gallery .card').first().waitFor();
    const before = await page.locator('.gallery .card').count();
    const created = await t.gql(
      `mutation($input: CreateFaceswapV4JobInput!) { createFaceswapV4Job(input: $input) { ... on SwapJob { id } } }`,
      { input: { sourceImage: SOURCE_URL, targetImage: TARGET_URL, provider: 'SEGMIND', seed: 5 } },
    );
    const id = created.data.createFaceswapV4Job.id as string;
    await waitForFinal(t, id);
    await page.waitForFunction((n) => (globalThis as any).document.querySelectorAll('.gallery .card').length === n + 1, before, { timeout: PATIENCE_MS });
    await waitText('.gallery .card:first-child .status', 'COMPLETED');
    // Thumbnails come from the server, small: not the full images.
    await page.waitForFunction(() => Array.from((globalThis as any).document.querySelectorAll('.gallery .thumb img') as any[]).some((i: any) => i.complete && i.naturalWidth > 0));
    const widths = await page.$$eval('.gallery .thumb img', (imgs) => (imgs as any[]).filter((i) => i.complete).map((i) => i.naturalWidth));
    expect(Math.max(...widths)).toBeLessThanOrEqual(320);
    // Every thumbnail states its size (no layout shift as it arrives), loads lazily and decodes off the main thread.
    const attrsOf = (selector: string) => page.$$eval(selector, (imgs) => (imgs as any[]).map((i) => ({
      width: i.getAttribute('width'), height: i.getAttribute('height'), loading: i.getAttribute('loading'), decoding: i.getAttribute('decoding'),
    })));
    // An output's thumbnail is 320 px, an input's 160 (shown at half the size).
    const outputs = await attrsOf('.gallery .pair > .thumb img');
    const inputs = await attrsOf('.gallery .pair .inputs .thumb img');
    expect(outputs.length).toBeGreaterThan(0);
    expect(inputs.length).toBeGreaterThan(0);
    for (const a of outputs) expect(a).toEqual({ width: '320', height: '320', loading: 'lazy', decoding: 'async' });
    for (const a of inputs) expect(a).toEqual({ width: '160', height: '160', loading: 'lazy', decoding: 'async' });
    // Plain <img src> of the API's signed links: the browser fetches them itself, without the key.
    const srcs = await page.$$eval('.gallery .thumb img', (imgs) => (imgs as any[]).map((i) => i.getAttribute('src') as string));
    for (const src of srcs) expect(src).toMatch(new RegExp(`^${t.url}/thumbnails/[^?]+\\?key=[0-9a-f-]+&expires=\\d+&signature=[\\w-]+$`));
    // The box a thumbnail lands in has its size before the image does.
    const boxes = await page.$$eval('.gallery .card .pair > .thumb', (els) => (els as any[]).map((el) => [el.clientWidth, el.clientHeight, el.querySelector('img') ? 1 : 0]));
    for (const [w, h] of boxes) {
      expect(w).toBeGreaterThan(0);
      expect(h).toBe(w);
    }
    // Every thumbnail in: loaded, or a box that says why there is none ("URL input"); an empty box is one still on its way.
    await page.waitForFunction(() => Array.from((globalThis as any).document.querySelectorAll('.gallery .thumb') as any[]).every((t: any) => {
      const img = t.querySelector('img');
      return img ? img.complete && img.naturalWidth > 0 : (t.textContent ?? '').trim() !== '';
    }), undefined, { timeout: PATIENCE_MS });
    await page.screenshot({ path: `${SHOTS}/dashboard-gallery.png`, fullPage: true });
    await page.setViewportSize({ width: 390, height: 844 });
    await page.screenshot({ path: `${SHOTS}/dashboard-phone.png` });
    const overflow = await page.evaluate(() => (globalThis as any).document.documentElement.scrollWidth - (globalThis as any).innerWidth);
    expect(overflow).toBeLessThanOrEqual(0);
    await page.setViewportSize({ width: 1280, height: 860 });
  });

  it('filters the gallery by provider through the API\'s filter', async () => {
    const count = async (provider: string) => (await t.gql(`query($p: [Provider!]) { jobs(first: 100, filter: { provider: $p }) { edges { node { id } } } }`, { p: [provider] })).data.jobs.edges.length;
    const local = await count('LOCAL');
    const segmind = await count('SEGMIND');
    expect(local).toBeGreaterThanOrEqual(2);
    expect(segmind).toBeGreaterThanOrEqual(1);
    await page.goto(`${t.url}/#/`);
    await page.locator('.gallery .card').first().waitFor({ timeout: PATIENCE_MS });
    const requests: string[] = [];
    const onRequest = (req: { url(): string; postData(): string | null }) => {
      if (req.url().endsWith('/graphql')) requests.push(req.postData() ?? '');
    };
    page.on('request', onRequest);
    try {
      for (const [provider, n] of [['LOCAL', local], ['SEGMIND', segmind]] as const) {
        await page.locator('#filter-provider').selectOption(provider);
        await page.waitForFunction(
          ([want, p]) => {
            const metas = Array.from((globalThis as any).document.querySelectorAll('.gallery .card .meta') as any[]);
            return metas.length === want && metas.every((m: any) => m.textContent.includes(p));
          },
          [n, provider] as const,
          { timeout: PATIENCE_MS },
        );
      }
      // Asked of the API, not sifted from an unfiltered page here.
      expect(requests.some((body) => JSON.parse(body).variables?.filter?.provider?.[0] === 'LOCAL')).toBe(true);
    } finally {
      page.off('request', onRequest);
      await page.locator('#filter-provider').selectOption('');
    }
  });

  it('shows the server\'s validation message at an out-of-range field', async () => {
    await page.goto(`${t.url}/#/new/FACESWAP_V4`);
    await page.locator('#field-sourceImage').fill(SOURCE_URL);
    await page.locator('#field-targetImage').fill(TARGET_URL);
    await page.locator('#field-imageQuality').fill('5');
    await page.getByRole('button', { name: 'Create swap' }).click();
    await page.locator('#field-imageQuality-error').waitFor({ timeout: PATIENCE_MS });
    expect(await text('#field-imageQuality-error')).toMatch(/10.*100|at least 10/i);
    expect(await page.locator('#field-imageQuality').getAttribute('aria-invalid')).toBe('true');
    expect(await page.locator('#field-imageQuality').getAttribute('aria-describedby')).toContain('field-imageQuality-error');
    expect(page.url()).toContain('#/new');
  });

  it('marks a missing required image without asking the server, and keeps every field when file reads end after later edits', async () => {
    await page.goto(`${t.url}/#/new/FACESWAP_V3_MULTI`);
    await page.locator('#field-sourceFacesIndex').waitFor({ timeout: PATIENCE_MS });
    const creates: string[] = [];
    const onRequest = (req: Request) => {
      if (req.url().endsWith('/graphql') && (req.postData() ?? '').includes('CreateFaceswapV3MultiJob')) creates.push(req.postData()!);
    };
    page.on('request', onRequest);
    try {
      await page.locator('#provider').selectOption('LOCAL');
      await page.getByRole('button', { name: 'Create swap' }).click();
      await page.locator('#field-sourceImage-error').waitFor({ timeout: PATIENCE_MS });
      expect(await text('#field-sourceImage-error')).toMatch(/required/i);
      expect(await text('#field-targetImage-error')).toMatch(/required/i);
      expect(creates).toEqual([]);

      // A busy machine reads files late: here every read starts 1.5 s after it is asked for,
      // so both reads end after the index fields below were typed.
      await page.evaluate(() => {
        const proto = (globalThis as any).FileReader.prototype;
        proto.__readAsDataURL = proto.readAsDataURL;
        proto.readAsDataURL = function (this: unknown, blob: unknown) { setTimeout(() => proto.__readAsDataURL.call(this, blob), 1500); };
      });
      await page.locator('#field-sourceImage-file').setInputFiles(samplePath(6));
      await page.locator('#field-targetImage-file').setInputFiles(samplePath(3));
      await page.locator('#field-sourceFacesIndex').fill('2');
      await page.locator('#field-inputFacesIndex').fill('1');
      // The button waits for the reads; the click lands once it is enabled again.
      await page.getByRole('button', { name: 'Create swap' }).click();
      await page.waitForURL(/#\/jobs\//, { timeout: PATIENCE_MS });
      const id = decodeURIComponent(page.url().split('#/jobs/')[1]!);
      const api = await t.gql(`query($id: ID!) { job(id: $id) { parameters ... on FaceswapV3MultiJob { sourceImage { sha256 } targetImage { sha256 } } } }`, { id });
      expect(String(api.data.job.parameters.source_faces_index)).toBe('2');
      expect(String(api.data.job.parameters.input_faces_index)).toBe('1');
      expect(api.data.job.sourceImage.sha256).toMatch(/^[0-9a-f]{64}$/);
      expect(api.data.job.targetImage.sha256).not.toBe(api.data.job.sourceImage.sha256);
      expect(creates).toHaveLength(1);
    } finally {
      page.off('request', onRequest);
      await page.evaluate(() => {
        const proto = (globalThis as any).FileReader.prototype;
        if (proto.__readAsDataURL) proto.readAsDataURL = proto.__readAsDataURL;
      });
    }
  });

  it('shows the jobs\' cost on the spend chart', async () => {
    const jobs = await t.gql(`{ jobs(first: 100) { edges { node { model status cost { charged { micros usd } } } } } }`);
    const charged = jobs.data.jobs.edges.map((e: any) => e.node).filter((n: any) => n.cost.charged);
    const total = charged.reduce((s: number, n: any) => s + Number(n.cost.charged.micros), 0);
    const v4 = charged.find((n: any) => n.model === 'FACESWAP_V4');
    expect(Number(v4.cost.charged.micros)).toBeGreaterThan(0);
    await page.goto(`${t.url}/#/spend`);
    await page.locator('#spend-total').waitFor({ timeout: PATIENCE_MS });
    expect(Number((await text('#spend-total')).replace('$', '')) * 1e6).toBeCloseTo(total, 0);
    const bar = page.locator('rect.bar[data-model="FACESWAP_V4"]');
    expect(await bar.count()).toBe(1);
    expect(await bar.locator('title').textContent()).toContain(`$${v4.cost.charged.usd.replace(/0+$/, '').replace(/\.$/, '')}`);
    expect(Number(await bar.getAttribute('height'))).toBeGreaterThan(0);
    await page.screenshot({ path: `${SHOTS}/dashboard-spend.png`, fullPage: true });
  });

  it('deletes a finished job after a confirm step: the tombstone shows, its images no longer load, the gallery marks it deleted', async () => {
    // Inline inputs, so every image of the job is stored here (a URL input would be shown from its own site).
    const inline = (n: number) => readFileSync(samplePath(n)).toString('base64');
    const created = await t.gql(
      `mutation($input: CreateFaceswapV4JobInput!) { createFaceswapV4Job(input: $input) { ... on SwapJob { id } } }`,
      { input: { sourceImage: inline(6), targetImage: inline(3), provider: 'SEGMIND', seed: 11 } },
    );
    const id = created.data.createFaceswapV4Job.id as string;
    await waitForFinal(t, id);
    const before = await t.gql(`query($id: ID!) { job(id: $id) { status output { url } } }`, { id });
    expect(before.data.job.status).toBe('COMPLETED');
    const outputUrl = before.data.job.output.url as string;
    const thumbUrl = `${t.url}/thumbnails/${encodeURIComponent(id)}/output`;
    const inputThumbUrl = `${t.url}/thumbnails/${encodeURIComponent(id)}/sourceImage`;
    // From here rather than the page: what the server answers now, not the browser's cached copy (outputs are immutable).
    const status = async (url: string) => (await fetch(url, { headers: { authorization: `Bearer ${t.key}` } })).status;
    expect(await status(outputUrl)).toBe(200);
    expect(await status(thumbUrl)).toBe(200);
    expect(await status(inputThumbUrl)).toBe(200);

    await page.goto(`${t.url}/#/jobs/${encodeURIComponent(id)}`);
    await page.waitForFunction(() => (((globalThis as any).document.querySelector('#output-image'))?.naturalWidth ?? 0) > 0, undefined, { timeout: PATIENCE_MS });
    // A first click only asks; keeping the job changes nothing.
    await page.getByRole('button', { name: 'Delete', exact: true }).click();
    await page.getByRole('alertdialog').waitFor();
    await page.getByRole('button', { name: 'Keep it' }).click();
    expect(await page.getByRole('alertdialog').count()).toBe(0);
    expect((await t.gql(`query($id: ID!) { job(id: $id) { deletedAt } }`, { id })).data.job.deletedAt).toBeNull();

    await page.getByRole('button', { name: 'Delete', exact: true }).click();
    await page.getByRole('button', { name: 'Delete for good' }).click();
    await waitText('#job-deleted', 'deleted');
    await waitText('#tombstone', 'images were erased');
    expect(await page.locator('#output-image').count()).toBe(0);
    expect(await page.getByRole('button', { name: 'Delete', exact: true }).count()).toBe(0);
    expect(await page.getByRole('button', { name: 'Rerun', exact: true }).count()).toBe(0);
    expect(await text('#job-status')).toBe('COMPLETED');
    const after = await t.gql(`query($id: ID!) { job(id: $id) { deletedAt imagesErasedAt output { url } } }`, { id });
    expect(after.data.job.deletedAt).not.toBeNull();
    expect(after.data.job.output).toBeNull();
    expect(await status(outputUrl)).toBe(410);
    expect(await status(thumbUrl)).toBe(410);
    expect(await status(inputThumbUrl)).toBe(410);
    expect(await page.locator('.images img').count()).toBe(0);

    // The schema's `deleted` filter leaves tombstones in by default: the gallery shows them, marked, without images.
    await page.goto(`${t.url}/#/`);
    const card = page.locator(`.gallery .card:has(a[href="#/jobs/${encodeURIComponent(id)}"])`);
    await card.waitFor({ timeout: PATIENCE_MS });
    await waitText(`.gallery .card.deleted a[href="#/jobs/${encodeURIComponent(id)}"] .meta`, 'deleted');
    expect(await card.locator('img').count()).toBe(0);
    await page.locator('#filter-deleted').selectOption('hide');
    await page.waitForFunction((sel) => (globalThis as any).document.querySelectorAll(sel).length === 0, `.gallery .card a[href="#/jobs/${encodeURIComponent(id)}"]`, { timeout: PATIENCE_MS });
    expect(await page.locator('.gallery .card').count()).toBeGreaterThan(0);
    await page.locator('#filter-deleted').selectOption('only');
    await card.waitFor({ timeout: PATIENCE_MS });
    expect(await page.locator('.gallery .card:not(.deleted)').count()).toBe(0);
  });

  it('shows a job\'s webhook deliveries with their answer, and retries one from the webhooks page', async () => {
    let answer = 503;
    const received: string[] = [];
    const receiver: Server = createServer((req, res) => {
      received.push(String(req.headers['webhook-id']));
      req.resume();
      req.on('end', () => res.writeHead(answer).end());
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    try {
      const hookUrl = `http://127.0.0.1:${(receiver.address() as { port: number }).port}/hook`;
      const endpoint = await t.gql(
        `mutation($input: CreateWebhookEndpointInput!) { createWebhookEndpoint(input: $input) { __typename ... on WebhookEndpointCreated { endpoint { id } } } }`,
        { input: { url: hookUrl, statuses: ['COMPLETED'] } },
      );
      expect(endpoint.data.createWebhookEndpoint.__typename).toBe('WebhookEndpointCreated');
      const created = await t.gql(
        `mutation($input: CreateFaceswapV4JobInput!) { createFaceswapV4Job(input: $input) { ... on SwapJob { id } } }`,
        { input: { sourceImage: readFileSync(samplePath(6)).toString('base64'), targetImage: readFileSync(samplePath(3)).toString('base64'), provider: 'SEGMIND', seed: 12 } },
      );
      const id = created.data.createFaceswapV4Job.id as string;
      await waitForFinal(t, id);
      await waitUntil(() => received.length === 1, () => `one delivery, got ${received.length}`);
      await waitUntil(async () => {
        const r = await t.gql(`{ webhookEndpoints { deliveries { edges { node { attemptCount } } } } }`);
        return r.data.webhookEndpoints[0].deliveries.edges[0]?.node.attemptCount === 1;
      }, () => 'the first try to be logged');

      // The job page lists the delivery of its COMPLETED event, refused by the endpoint (503), with its time.
      await page.goto(`${t.url}/#/jobs/${encodeURIComponent(id)}`);
      await waitText('#job-status', 'COMPLETED');
      await waitText('#job-deliveries tbody', '503');
      const row = page.locator('#job-deliveries tbody tr');
      expect(await row.count()).toBe(1);
      expect(await row.locator('td').nth(0).textContent()).toBe(hookUrl);
      expect(await row.locator('td').nth(1).textContent()).toBe('COMPLETED');
      expect(await row.locator('.delivery-status').textContent()).toBe('PENDING');
      expect(await row.locator('td').nth(3).textContent()).toBe('1');
      expect(await row.locator('time').getAttribute('datetime')).toMatch(/^\d{4}-\d\d-\d\dT/);
      const deliveryId = await row.getAttribute('data-delivery');
      expect(received).toEqual([deliveryId]);

      // The endpoint now answers 200: a retry from the webhooks page delivers it.
      answer = 200;
      await page.goto(`${t.url}/#/webhooks`);
      const logRow = page.locator(`tr[data-delivery="${deliveryId}"]`);
      await logRow.waitFor({ timeout: PATIENCE_MS });
      expect(await logRow.locator('.response').textContent()).toBe('503');
      await logRow.getByRole('button', { name: /^Retry/ }).click();
      await waitText('#hooks-message', 'Retried now.');
      await waitUntil(() => received.length === 2, () => `the retried delivery, got ${received.length}`);
      expect(received).toEqual([deliveryId, deliveryId]);
      await waitUntil(async () => {
        const r = await t.gql(`{ webhookEndpoints { deliveries { edges { node { id status } } } } }`);
        return r.data.webhookEndpoints[0].deliveries.edges[0].node.status === 'SUCCEEDED';
      }, () => 'the delivery to succeed');
      await page.reload();
      await waitText(`tr[data-delivery="${deliveryId}"] .delivery-status`, 'SUCCEEDED');
      expect(await logRow.locator('.response').textContent()).toBe('200');
      expect(await logRow.locator('.tries').textContent()).toBe('2');
    } finally {
      await new Promise((resolve) => receiver.close(resolve));
    }
  });

  it('an admin key makes a new key from the keys page, sees its secret once, and the new key signs in', async () => {
    const admin = await t.newKey('admin', { admin: true });
    await page.getByRole('button', { name: 'Sign out' }).click();
    await signInWith(admin);
    await page.getByRole('link', { name: 'Keys' }).click();
    await page.locator('#key-name').waitFor({ timeout: PATIENCE_MS });
    // A bad name: the server's message at the field, and no key made.
    const keysBefore = (await t.gql(`{ apiKeys { id } }`, {}, admin)).data.apiKeys.length;
    await page.locator('#key-name').fill('x'.repeat(101));
    await page.getByRole('button', { name: 'Create key' }).click();
    await waitText('#key-name-error', 'at most 100 characters');
    expect(await page.locator('#key-name').getAttribute('aria-invalid')).toBe('true');
    expect((await t.gql(`{ apiKeys { id } }`, {}, admin)).data.apiKeys.length).toBe(keysBefore);

    await page.locator('#key-name').fill('made in the browser');
    await page.getByRole('button', { name: 'Create key' }).click();
    await page.locator('#new-key-secret').waitFor({ timeout: PATIENCE_MS });
    expect(await page.locator('#key-name-error').count()).toBe(0);
    const secret = await page.locator('#new-key-secret').inputValue();
    expect(secret).toMatch(/^sy_/);
    await page.context().grantPermissions(['clipboard-read', 'clipboard-write'], { origin: t.url });
    await page.getByRole('button', { name: 'Copy' }).click();
    await waitText('.secret-row button', 'Copied');
    expect(await page.evaluate(() => (globalThis as any).navigator.clipboard.readText())).toBe(secret);
    await waitText('#keys-table', 'made in the browser');
    await page.screenshot({ path: `${SHOTS}/dashboard-keys.png`, fullPage: true });

    // The secret is shown this once: the page again has no trace of it.
    await page.reload();
    await page.locator('#keys-table').waitFor({ timeout: PATIENCE_MS });
    expect(await page.content()).not.toContain(secret);

    await page.getByRole('button', { name: 'Sign out' }).click();
    await signInWith(secret);
    await waitText('.top .who', 'made in the browser');
    expect(await page.getByRole('link', { name: 'Keys' }).count()).toBe(0);
  });

  it('shows every card of a page larger than one frame\'s worth (cards arrive over a few frames, not in one long task)', async () => {
    const created = await Promise.all(Array.from({ length: 45 }, (_, i) => t.gql(
      `mutation($input: CreateFaceswapV4JobInput!) { createFaceswapV4Job(input: $input) { ... on SwapJob { id } } }`,
      { input: { sourceImage: SOURCE_URL, targetImage: TARGET_URL, provider: 'SEGMIND', seed: 500 + i } },
    )));
    expect(created.every((r) => r.data.createFaceswapV4Job.id)).toBe(true);
    const total = (await t.gql(`{ jobs(first: 100) { edges { node { id } } } }`)).data.jobs.edges.length;
    expect(total).toBeGreaterThan(45);
    // The test before left another key signed in.
    await page.getByRole('button', { name: 'Sign out' }).click();
    await signInWith(t.key);
    await page.goto(`${t.url}/#/`);
    await page.locator('.gallery .card').first().waitFor({ timeout: PATIENCE_MS });
    await page.locator('#filter-per-page').selectOption('100');
    await page.waitForFunction((n) => (globalThis as any).document.querySelectorAll('.gallery .card').length === n, total, { timeout: PATIENCE_MS });
    // Newest first, in the API's order.
    const hrefs = await page.$$eval('.gallery .card > a', (as) => (as as any[]).map((a) => a.getAttribute('href')));
    const ids = (await t.gql(`{ jobs(first: 100) { edges { node { id } } } }`)).data.jobs.edges.map((e: any) => `#/jobs/${encodeURIComponent(e.node.id)}`);
    expect(hrefs).toEqual(ids);
    await page.locator('#filter-per-page').selectOption('24');
  });

  it('a second key sees none of the first key\'s jobs', async () => {
    const other = await t.newKey('second');
    await page.getByRole('button', { name: 'Sign out' }).click();
    await signInWith(other);
    await page.locator('.empty').waitFor({ timeout: PATIENCE_MS });
    expect(await page.locator('.gallery .card').count()).toBe(0);
    await page.goto(`${t.url}/#/jobs/${encodeURIComponent(localJobId)}`);
    await waitText('#main', 'No such job for this key.');
  });

  it('fetched nothing from elsewhere and logged no errors', () => {
    expect(foreign).toEqual([]);
    expect(problems).toEqual([]);
  });
});
