// `npm run worker`: a worker in its own process. Run as many as you like,
// against the same DATABASE_URL as the API; they never take the same job.
import { artifactStore, prepareServiceDatabase } from './app.js';
import { loadConfig } from './config.js';
import { connectDb } from './db/client.js';
import { workerProvider } from './services/providers/index.js';
import { Worker } from './services/worker.js';
import { WebhookDispatcher } from './services/webhook-dispatcher.js';

const config = loadConfig();
// Without DATABASE_URL, join the embedded database that `npm start` runs.
const databaseUrl = config.databaseUrl ?? `postgresql://postgres:postgres@127.0.0.1:${config.embeddedPgPort}/swapyard`;
if (!config.segmind.apiKey && !process.env.SEGMIND_BASE_URL) {
  // The emulator `npm start` runs on its default port.
  config.segmind.baseUrl = `http://127.0.0.1:${process.env.EMULATOR_PORT ?? 8787}`;
}

const artifacts = artifactStore(config);
await prepareServiceDatabase(databaseUrl, artifacts);
const db = connectDb(databaseUrl, { max: config.worker.concurrency + 2 });
const providers = workerProvider(config, db.pool);
const worker = new Worker({
  databaseUrl,
  pool: db.pool,
  readCredits: config.upstream.creditReadings,
  provider: providers.provider,
  artifacts,
  config: config.worker,
});
await worker.start();
const webhooks = new WebhookDispatcher({ databaseUrl, pool: db.pool, config: config.webhooks });
await webhooks.start();
console.log(`Worker ${worker.id} running (concurrency ${config.worker.concurrency}; segmind jobs to ${config.segmind.baseUrl}, local jobs on this CPU)`);

async function shutdown(): Promise<void> {
  await worker.stop();
  await providers.close();
  await webhooks.stop();
  await db.close();
  process.exit(0);
}
process.on('SIGINT', () => void shutdown());
process.on('SIGTERM', () => void shutdown());
