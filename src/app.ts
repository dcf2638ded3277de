// Assembles a running service from its parts: migrations, database pool, event
// hub, artifact store, optional in-process worker, and the HTTP server. Used by
// `npm start` (src/main.ts) and by the tests, so both run the same wiring.
import { join } from 'node:path';
import type { Config } from './config.js';
import { connectDb, warmUp, type Db } from './db/client.js';
import { prepareDatabase } from './db/migrations.js';
import { schema } from './schema/index.js';
import { startHttpServer } from './server/http-server.js';
import { LocalArtifactStore, type ArtifactStore } from './services/artifacts.js';
import { EventHub } from './services/event-hub.js';
import { moveInlineInputs } from './services/input-migration.js';
import { workerProvider } from './services/providers/index.js';
import type { UpstreamProvider } from './services/providers/types.js';
import { Worker } from './services/worker.js';
import { WebhookDispatcher } from './services/webhook-dispatcher.js';

export interface App {
  url: string;
  db: Db;
  events: EventHub;
  worker: Worker | null;
  webhooks: WebhookDispatcher | null;
  close(): Promise<void>;
}

export interface AppOptions {
  config: Config;
  databaseUrl: string;
  /** Segmind or its emulator; the worker adds the local engine for jobs that name it. */
  provider: UpstreamProvider;
  log?: (line: string) => void;
  /** Sees the SQL text of every statement the service's pool sends (tests of what a read loads). */
  onQuery?: (sql: string) => void;
}

/**
 * Creates and migrates the database, then moves inline inputs of jobs written
 * before they were kept in the artifact store (input-migration.ts). Run by the
 * service and by workers as they start.
 */
export async function prepareServiceDatabase(databaseUrl: string, artifacts: ArtifactStore, log?: (line: string) => void): Promise<void> {
  await prepareDatabase(databaseUrl, log);
  await moveInlineInputs(databaseUrl, artifacts, log);
}

export function artifactStore(config: Config): LocalArtifactStore {
  return new LocalArtifactStore(join(config.dataDir, 'artifacts'));
}

export async function startApp(opts: AppOptions): Promise<App> {
  const { config } = opts;
  const artifacts = artifactStore(config);
  await prepareServiceDatabase(opts.databaseUrl, artifacts, opts.log);
  const db = connectDb(opts.databaseUrl, { onQuery: opts.onQuery });
  await warmUp(db);
  const events = new EventHub(opts.databaseUrl, db.pool);
  await events.start();
  const providers = config.embeddedWorker ? workerProvider(config, db.pool, opts.log, opts.provider) : null;
  const worker = providers
    ? new Worker({
        databaseUrl: opts.databaseUrl,
        pool: db.pool,
        readCredits: config.upstream.creditReadings,
        provider: providers.provider,
        artifacts,
        config: config.worker,
        log: opts.log,
      })
    : null;
  await worker?.start();
  // Webhook deliveries go out wherever a worker runs.
  const webhooks = config.embeddedWorker
    ? new WebhookDispatcher({ databaseUrl: opts.databaseUrl, pool: db.pool, config: config.webhooks, log: opts.log })
    : null;
  await webhooks?.start();
  const http = await startHttpServer({
    schema,
    db,
    artifacts,
    host: config.host,
    port: config.port,
    maxBodyBytes: config.limits.maxBodyBytes,
    maxResponseBytes: config.limits.maxResponseBytes,
    operations: config.operations,
    corsOrigins: config.corsOrigins,
    publicUrl: config.publicUrl,
    keyLimits: config.keyLimits,
    notices: events,
    context: (apiKey, publicUrl) => ({ db, apiKey, events, artifacts, config, publicUrl }),
  });
  return {
    url: http.url,
    db,
    events,
    worker,
    webhooks,
    async close() {
      await http.close();
      await worker?.stop();
      await providers?.close();
      await webhooks?.stop();
      await events.stop();
      await db.close();
    },
  };
}
