// `npm run worker`: a worker in its own process. Run as many as you like,
// against the same DATABASE_URL as the API; they never take the same job.
// Each serves /healthz, /readyz and /metrics on WORKER_PORT (0: a free port).
import { readFile } from 'node:fs/promises';
import { artifactStore, configuredWorker, prepareServiceDatabase, tracingFor } from './app.js';
import { emulatorUrlFile, loadConfig } from './config.js';
import { connectDb } from './db/client.js';
import { serviceDatabase } from './db/embedded-postgres.js';
import { healthRoutes } from './server/health.js';
import { metricsHandler } from './server/metrics-endpoint.js';
import { startWorkerHttpServer } from './server/worker-http.js';
import { Readiness } from './services/readiness.js';
import { workerProvider } from './services/providers/index.js';
import { WebhookDispatcher } from './services/webhook-dispatcher.js';
import { RetentionSweeper } from './services/job-retention.js';
import { countLiveJobs } from './services/jobs.js';
import { componentLogger } from './util/logger.js';
import { observeLive } from './util/metrics.js';
import { describeStartupFailure } from './util/startup-error.js';

const log = componentLogger('worker-main');

async function start() {
  const config = loadConfig();
  // Without DATABASE_URL, join the embedded database that `npm start` runs (same data directory).
  const databaseUrl = (await serviceDatabase(config, 'join')).url;
  if (!config.segmind.apiKey && !process.env.SEGMIND_BASE_URL) {
    // The emulator `npm start` of this data directory runs (it records its URL), else its default port.
    const recorded = await readFile(emulatorUrlFile(config.dataDir), 'utf8').then((s) => s.trim(), () => '');
    config.segmind.baseUrl = recorded || `http://127.0.0.1:${process.env.EMULATOR_PORT ?? 8787}`;
  }

  const tracing = await tracingFor(config, 'worker');
  const artifacts = await artifactStore(config, databaseUrl);
  await prepareServiceDatabase(databaseUrl, artifacts);
  const db = connectDb(databaseUrl, { max: config.worker.concurrency + 2 });
  const providers = workerProvider(config, db.pool);
  const readiness = new Readiness(db.pool);
  const worker = configuredWorker(config, { databaseUrl, pool: db.pool, provider: providers.provider, artifacts, readiness });
  await worker.start();
  const webhooks = new WebhookDispatcher({ databaseUrl, pool: db.pool, config: config.webhooks, readiness });
  await webhooks.start();
  const retention = new RetentionSweeper({ pool: db.pool, artifacts, config: config.retention, log: (line) => log.info(line) });
  retention.start();
  observeLive({ queueDepth: () => countLiveJobs(db.pool) });
  const http = await startWorkerHttpServer({
    host: config.observability.workerHost,
    port: config.workerPort,
    routes: {
      ...healthRoutes(readiness),
      '/metrics': metricsHandler({ token: config.observability.metricsToken, otherwise: 'loopback' }),
    },
  });
  return { config, worker, providers, webhooks, retention, db, http, tracing, artifacts };
}

const { config, worker, providers, webhooks, retention, db, http, tracing, artifacts } = await start().catch((err: unknown) => {
  console.error(describeStartupFailure(err));
  process.exit(1);
});
log.info(
  { worker: worker.id, concurrency: config.worker.concurrency, health: `${http.url}/readyz`, metrics: `${http.url}/metrics` },
  `Worker ${worker.id} running (concurrency ${config.worker.concurrency}; segmind jobs to ${config.segmind.baseUrl}, local jobs on this CPU; `
    + `health at ${http.url}/healthz, ${http.url}/readyz; metrics at ${http.url}/metrics)`,
);

async function shutdown(): Promise<void> {
  await http.close();
  await worker.stop();
  await providers.close();
  await webhooks.stop();
  await retention.stop();
  await db.close();
  await artifacts.close();
  await tracing.shutdown();
  process.exit(0);
}
process.on('SIGINT', () => void shutdown());
process.on('SIGTERM', () => void shutdown());
