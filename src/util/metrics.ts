// Every Prometheus metric of the service, in one registry (prom-client). The
// API serves it at /metrics and a separate worker on its own port
// (src/server/metrics-endpoint.ts, src/server/worker-http.ts). Counters and
// histograms are updated where things happen (one call each, no allocation
// beyond prom-client's label lookup); gauges whose value lives elsewhere
// (queue depth, open sockets) are read when scraped, through sources the
// running parts register here.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export const registry = new Registry();
// Node's own: swapyard_process_resident_memory_bytes, swapyard_nodejs_eventloop_lag_seconds, …
collectDefaultMetrics({ register: registry, prefix: 'swapyard_' });

/** Seconds, from a fast sync v1 call to the vendor's 600 s job deadline. */
const DURATION_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600];
const LATENCY_BUCKETS = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120];
const LAG_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

export const jobsCreated = new Counter({
  name: 'swapyard_jobs_created_total',
  help: 'Jobs created (create mutations and reruns that stored a job)',
  labelNames: ['model', 'provider'] as const,
  registers: [registry],
});

export const jobsCompleted = new Counter({
  name: 'swapyard_jobs_completed_total',
  help: 'Jobs that reached COMPLETED',
  labelNames: ['model', 'provider'] as const,
  registers: [registry],
});

export const jobsFailed = new Counter({
  name: 'swapyard_jobs_failed_total',
  help: 'Jobs that reached FAILED, by failure code',
  labelNames: ['model', 'provider', 'reason'] as const,
  registers: [registry],
});

export const jobsCanceled = new Counter({
  name: 'swapyard_jobs_canceled_total',
  help: 'Jobs canceled by their key',
  labelNames: ['model', 'provider'] as const,
  registers: [registry],
});

export const jobDuration = new Histogram({
  name: 'swapyard_job_duration_seconds',
  help: 'From creation to a final status (COMPLETED, FAILED, CANCELED)',
  labelNames: ['model', 'status'] as const,
  buckets: DURATION_BUCKETS,
  registers: [registry],
});

export const upstreamLatency = new Histogram({
  name: 'swapyard_upstream_request_duration_seconds',
  help: 'One upstream HTTP call (submit, poll, download, credit reading), answered or not',
  labelNames: ['model', 'phase'] as const,
  buckets: LATENCY_BUCKETS,
  registers: [registry],
});

export const upstreamResponses = new Counter({
  name: 'swapyard_upstream_responses_total',
  help: 'Upstream answers by HTTP status code ("network" when none came: refused, reset, timeout)',
  labelNames: ['phase', 'code'] as const,
  registers: [registry],
});

export const jobRetries = new Counter({
  name: 'swapyard_job_retries_total',
  help: 'Job steps put off after a transient upstream failure (429, 5xx, network), to be tried again',
  labelNames: ['model', 'provider'] as const,
  registers: [registry],
});

export const rateLimitWaits = new Counter({
  name: 'swapyard_upstream_rate_limit_waits_total',
  help: 'Submissions held back by UPSTREAM_RATE_PER_MINUTE until the next window (not failures)',
  labelNames: ['model', 'provider'] as const,
  registers: [registry],
});

export const webhookDeliveries = new Counter({
  name: 'swapyard_webhook_attempts_total',
  help: 'Webhook delivery attempts by outcome: succeeded, retrying (failed, another try scheduled), failed (schedule used up)',
  labelNames: ['outcome'] as const,
  registers: [registry],
});

export const fanoutLag = new Histogram({
  name: 'swapyard_event_fanout_lag_seconds',
  help: 'From an event\'s commit time (created_at) to its push to the subscribers of this API process',
  buckets: LAG_BUCKETS,
  registers: [registry],
});

export const thumbnailsServed = new Counter({
  name: 'swapyard_thumbnails_total',
  help: 'Thumbnails this process needed, by how it got them: made (sharp), stored (made before, by any process, read back)',
  labelNames: ['how'] as const,
  registers: [registry],
});

export const spendUsd = new Counter({
  name: 'swapyard_spend_usd_total',
  help: 'Charges settled on jobs (the ledger), in US dollars',
  labelNames: ['model'] as const,
  registers: [registry],
});

/** Read at scrape time: open graphql-ws sockets and running subscriptions of this API process. */
const liveSources = {
  sockets: [] as Array<() => number>,
  subscriptions: [] as Array<() => number>,
};

new Gauge({
  name: 'swapyard_websocket_connections',
  help: 'Open graphql-ws connections on this API process',
  registers: [registry],
  collect() {
    this.set(liveSources.sockets.reduce((n, read) => n + read(), 0));
  },
});

new Gauge({
  name: 'swapyard_subscriptions',
  help: 'Running subscriptions (jobUpdated, jobsUpdated) on this API process',
  registers: [registry],
  collect() {
    this.set(liveSources.subscriptions.reduce((n, read) => n + read(), 0));
  },
});

/** Counts jobs per live status: one grouped query on the status index, run at scrape time. */
export type QueueDepthReader = () => Promise<Array<{ status: string; count: number }>>;
const depthReaders: QueueDepthReader[] = [];
const LIVE = ['QUEUED', 'SUBMITTED', 'PROCESSING'];

new Gauge({
  name: 'swapyard_queue_depth',
  help: 'Jobs not yet final, by status, read from the database when scraped (the same figure on every process)',
  labelNames: ['status'] as const,
  registers: [registry],
  async collect() {
    const read = depthReaders[0];
    if (!read) return;
    const rows = await read().catch(() => null);
    if (!rows) return; // database away: keep the last figures rather than fail the scrape
    for (const status of LIVE) this.set({ status }, rows.find((r) => r.status === status)?.count ?? 0);
  },
});

/** Registers what open-socket and subscription gauges read; returns the unregister function. */
export function observeLive(source: { sockets?: () => number; subscriptions?: () => number; queueDepth?: QueueDepthReader }): () => void {
  const added: Array<[unknown[], unknown]> = [];
  if (source.sockets) added.push([liveSources.sockets, source.sockets]);
  if (source.subscriptions) added.push([liveSources.subscriptions, source.subscriptions]);
  if (source.queueDepth) added.push([depthReaders, source.queueDepth]);
  for (const [list, item] of added) list.push(item);
  return () => {
    for (const [list, item] of added) {
      const i = list.indexOf(item);
      if (i >= 0) list.splice(i, 1);
    }
  };
}

/** The text a scrape gets. */
export async function scrape(): Promise<{ contentType: string; body: string }> {
  return { contentType: registry.contentType, body: await registry.metrics() };
}
