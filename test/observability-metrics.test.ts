// Issue 15, item 2: Prometheus metrics on the API's /metrics and on a separate
// worker's own port, after real jobs: the API (without a worker) takes three
// creates, a worker process runs them against the emulator (one refused with
// 400, one put off by a 503), a webhook is delivered, a subscription is open.
// The figures are exact: this file's processes made every job they count.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { collect, startTestApp, type TestApp } from './support/app.js';
import { spawnWorker, stopProcess, type SpawnedProcess } from './support/processes.js';
import { waitUntil } from './support/wait.js';

const TOKEN = 'metrics-token-for-tests';

/** The value of one sample line, e.g. sample(text, 'swapyard_jobs_created_total', { model: 'FACESWAP_V4' }). */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    const labelText = /\{(.*)\}/.exec(line)?.[1] ?? '';
    if (Object.entries(labels).every(([k, v]) => labelText.includes(`${k}="${v}"`))) return Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return undefined;
}

async function scrape(url: string, authorization?: string): Promise<{ status: number; text: string }> {
  const res = await fetch(`${url}/metrics`, { headers: authorization ? { authorization } : {} });
  return { status: res.status, text: await res.text() };
}

describe('metrics after real jobs', () => {
  let t: TestApp;
  let worker: SpawnedProcess;
  let receiver: Server;
  let delivered = 0;

  beforeAll(async () => {
    t = await startTestApp({ worker: false, env: { METRICS_TOKEN: TOKEN, WEBHOOK_ALLOW_PRIVATE: 'true' } });
    receiver = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        delivered += 1;
        res.writeHead(200).end();
      });
    });
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  });

  afterAll(async () => {
    if (worker) await stopProcess(worker);
    await new Promise((r) => receiver?.close(r));
    await t?.close();
  });

  it('counts jobs, upstream answers, retries, webhooks, sockets, fan-out and spend; the token is required', async () => {
    const port = (receiver.address() as AddressInfo).port;
    const hook = await t.gql(`mutation($input: CreateWebhookEndpointInput!) { createWebhookEndpoint(input: $input) { __typename } }`,
      { input: { url: `http://127.0.0.1:${port}/hook`, statuses: ['COMPLETED'] } });
    expect(hook.data.createWebhookEndpoint.__typename).toBe('WebhookEndpointCreated');

    const ws = t.wsClient();
    const watching = collect(ws, `subscription { jobsUpdated { status } }`, {}, (events) => events.filter((e: any) => e.jobsUpdated.status === 'COMPLETED').length >= 2);
    await waitUntil(() => t.app.events.subscriberCount() === 1, () => 'the subscription is open');

    // The first submission is refused (400 → INVALID_INPUT), the next one answered 503 (retried).
    t.emulator.injectFault({ match: { model: 'faceswap-v4' }, response: { status: 400 } });
    t.emulator.injectFault({ match: { model: 'faceswap-v4' }, response: { status: 503 } });
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const r = await t.gql(`mutation { createFaceswapV4Job(input: { sourceImage: "https://example.com/a.jpg", targetImage: "https://example.com/b.jpg" }) { ... on FaceswapV4Job { id } } }`);
      ids.push(r.data.createFaceswapV4Job.id);
    }

    // Before any worker: three jobs created and queued, as the API counts them.
    const before = await scrape(t.url, `Bearer ${TOKEN}`);
    expect(before.status).toBe(200);
    expect(sample(before.text, 'swapyard_jobs_created_total', { model: 'FACESWAP_V4', provider: 'segmind' })).toBe(3);
    expect(sample(before.text, 'swapyard_queue_depth', { status: 'QUEUED' })).toBe(3);
    expect(sample(before.text, 'swapyard_websocket_connections')).toBe(1);
    expect(sample(before.text, 'swapyard_subscriptions')).toBe(1);

    worker = await spawnWorker(t, { WORKER_PORT: '0', METRICS_TOKEN: TOKEN, WEBHOOK_ALLOW_PRIVATE: 'true' });
    const workerUrl = /metrics at (http:\/\/\S+)\/metrics/.exec(worker.output())![1]!;
    await watching.finished;
    await waitUntil(async () => {
      const { text } = await scrape(workerUrl, `Bearer ${TOKEN}`);
      return sample(text, 'swapyard_jobs_failed_total', { reason: 'INVALID_INPUT' }) === 1
        && sample(text, 'swapyard_jobs_completed_total', { model: 'FACESWAP_V4' }) === 2
        && sample(text, 'swapyard_webhook_attempts_total', { outcome: 'succeeded' }) === 2;
    }, () => `the worker's metrics show the jobs and webhooks done:\n${worker.output()}`);
    expect(delivered).toBe(2);

    const w = (await scrape(workerUrl, `Bearer ${TOKEN}`)).text;
    expect(sample(w, 'swapyard_jobs_completed_total', { model: 'FACESWAP_V4', provider: 'segmind' })).toBe(2);
    expect(sample(w, 'swapyard_jobs_failed_total', { model: 'FACESWAP_V4', provider: 'segmind', reason: 'INVALID_INPUT' })).toBe(1);
    expect(sample(w, 'swapyard_job_duration_seconds_count', { model: 'FACESWAP_V4', status: 'COMPLETED' })).toBe(2);
    expect(sample(w, 'swapyard_job_duration_seconds_count', { model: 'FACESWAP_V4', status: 'FAILED' })).toBe(1);
    expect(sample(w, 'swapyard_upstream_responses_total', { phase: 'submit', code: '200' })).toBe(2);
    expect(sample(w, 'swapyard_upstream_responses_total', { phase: 'submit', code: '400' })).toBe(1);
    expect(sample(w, 'swapyard_upstream_responses_total', { phase: 'submit', code: '503' })).toBe(1);
    expect(sample(w, 'swapyard_upstream_request_duration_seconds_count', { model: 'FACESWAP_V4', phase: 'submit' })).toBe(4);
    expect(sample(w, 'swapyard_job_retries_total', { model: 'FACESWAP_V4' })).toBe(1);
    // faceswap-v4 costs $0.04 (the default table); a refused job pays the failure price, 0.
    expect(sample(w, 'swapyard_spend_usd_total', { model: 'FACESWAP_V4' })).toBeCloseTo(0.08, 9);
    expect(sample(w, 'swapyard_jobs_created_total')).toBeUndefined(); // created by the API, not this process

    const api = (await scrape(t.url, `Bearer ${TOKEN}`)).text;
    expect(sample(api, 'swapyard_queue_depth', { status: 'QUEUED' })).toBe(0);
    expect(sample(api, 'swapyard_event_fanout_lag_seconds_count')).toBeGreaterThanOrEqual(2);
    expect(sample(api, 'swapyard_process_resident_memory_bytes')).toBeGreaterThan(0);

    // The token is required on both ports: none, a wrong one, an API key instead.
    for (const auth of [undefined, 'Bearer wrong-token', `Bearer ${t.key}`]) {
      const refused = await scrape(t.url, auth);
      expect(refused.status).toBe(401);
      expect(refused.text).not.toContain('swapyard_');
      expect((await scrape(workerUrl, auth)).status).toBe(401);
    }
  });
});

describe('metrics access without METRICS_TOKEN', () => {
  it('the API port takes an admin API key only; a METRICS_ADDRESS listener is open and moves /metrics off the API port', async () => {
    const t = await startTestApp({ worker: false });
    try {
      const admin = await t.newKey('admin', { admin: true });
      expect((await scrape(t.url, `Bearer ${admin}`)).status).toBe(200);
      expect((await scrape(t.url, `Bearer ${t.key}`)).status).toBe(403); // an ordinary key
      expect((await scrape(t.url)).status).toBe(401);
    } finally {
      await t.close();
    }
    const separate = await startTestApp({ worker: false, env: { METRICS_ADDRESS: '127.0.0.1:0' } });
    try {
      expect(separate.app.metricsUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      const open = await scrape(separate.app.metricsUrl!);
      expect(open.status).toBe(200);
      expect(open.text).toContain('swapyard_jobs_created_total');
      expect((await scrape(separate.url, `Bearer ${separate.key}`)).status).toBe(404);
    } finally {
      await separate.close();
    }
  });

  it('refuses a METRICS_ADDRESS that is not host:port at start', async () => {
    const { loadConfig } = await import('../src/config.js');
    expect(() => loadConfig({ METRICS_ADDRESS: '9464' })).toThrow(/METRICS_ADDRESS must be host:port/);
    expect(() => loadConfig({ LOG_LEVEL: 'loud' })).toThrow(/LOG_LEVEL must be one of/);
    expect(() => loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'collector:4318' })).toThrow(/OTEL_EXPORTER_OTLP_ENDPOINT must be an http\(s\) URL/);
  });
});
