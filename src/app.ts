// Assembles a running service from its parts: migrations, database pool, event
// hub, artifact store, optional in-process worker, and the HTTP server. Used by
// `npm start` (src/main.ts) and by the tests, so both run the same wiring.
import type { Config } from './config.js';
import { connectDb, warmUp, type Db } from './db/client.js';
import { prepareDatabase } from './db/migrations.js';
import { schema } from './schema/index.js';
import { startHttpServer } from './server/http-server.js';
import { openArtifactStore } from './services/artifact-stores.js';
import type { ArtifactStore } from './services/artifacts.js';
import { EventHub } from './services/event-hub.js';
import { Readiness } from './services/readiness.js';
import { moveInlineInputs } from './services/input-migration.js';
import { RetentionSweeper } from './services/job-retention.js';
import { workerProvider } from './services/providers/index.js';
import type { UpstreamProvider } from './services/providers/types.js';
import { Worker } from './services/worker.js';
import { WebhookDispatcher } from './services/webhook-dispatcher.js';
import { countLiveJobs } from './services/jobs.js';
import { metricsHandler } from './server/metrics-endpoint.js';
import { startWorkerHttpServer, type RunningWorkerHttp } from './server/worker-http.js';
import { componentLogger } from './util/logger.js';
import { observeLive } from './util/metrics.js';
import { startTracing, type Tracing } from './util/tracing.js';
import { UrlSigner } from './util/url-signing.js';
import { loadUrlSigningSecret } from './db/url-signing-secret.js';

export interface App {
  url: string;
  /** The METRICS_ADDRESS listener's URL, when there is one. */
  metricsUrl: string | null;
  db: Db;
  /** The configured artifact store (ARTIFACT_STORE), shared by the API and the embedded worker. */
  artifacts: ArtifactStore;
  events: EventHub;
  readiness: Readiness;
  worker: Worker | null;
  webhooks: WebhookDispatcher | null;
  retention: RetentionSweeper | null;
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
export async function prepareServiceDatabase(
  databaseUrl: string,
  artifacts: ArtifactStore,
  // The schema engine's own chatter at debug; what was applied at info.
  log: (line: string) => void = (line) => (line.startsWith('[schema-engine]') ? componentLogger('db').debug(line) : componentLogger('db').info(line)),
): Promise<void> {
  await prepareDatabase(databaseUrl, log);
  await moveInlineInputs(databaseUrl, artifacts, log);
}

/** The configured artifact store (src/services/artifact-stores.ts); close it when done. */
export function artifactStore(config: Config, databaseUrl: string): Promise<ArtifactStore> {
  return openArtifactStore(config, databaseUrl);
}

/** Tracing for a process of `role`, when OTEL_EXPORTER_OTLP_ENDPOINT is set (src/util/tracing.ts). */
export function tracingFor(config: Config, role: 'api' | 'worker'): Promise<Tracing> {
  const o = config.observability;
  return startTracing({ endpoint: o.otlpEndpoint, tracesUrl: o.otlpTracesUrl, serviceName: `swapyard-${role}` });
}

/** A worker as the configuration says, in the API's process (embedded) or its own (worker-main.ts). */
export function configuredWorker(
  config: Config,
  parts: Pick<ConstructorParameters<typeof Worker>[0], 'databaseUrl' | 'pool' | 'provider' | 'artifacts' | 'readiness' | 'log'>,
): Worker {
  return new Worker({
    ...parts,
    readCredits: config.upstream.creditReadings,
    creditReadingIntervalMs: config.upstream.creditReadingIntervalMs,
    config: config.worker,
    labelling: config.labelling,
  });
}

export async function startApp(opts: AppOptions): Promise<App> {
  const { config } = opts;
  const tracing = await tracingFor(config, 'api');
  const artifacts = await artifactStore(config, opts.databaseUrl);
  try {
    await prepareServiceDatabase(opts.databaseUrl, artifacts, opts.log);
  } catch (err) {
    await artifacts.close();
    throw err;
  }
  const db = connectDb(opts.databaseUrl, { onQuery: opts.onQuery });
  await warmUp(db);
  const readiness = new Readiness(db.pool);
  const events = new EventHub(opts.databaseUrl, db.pool, { readiness, ...config.events, log: opts.log && ((line) => opts.log!(`[events] ${line}`)) });
  await events.start();
  const providers = config.embeddedWorker ? workerProvider(config, db.pool, opts.log, opts.provider) : null;
  const worker = providers
    ? configuredWorker(config, { databaseUrl: opts.databaseUrl, pool: db.pool, provider: providers.provider, artifacts, readiness, log: opts.log })
    : null;
  await worker?.start();
  // Webhook deliveries go out wherever a worker runs.
  const webhooks = config.embeddedWorker
    ? new WebhookDispatcher({ databaseUrl: opts.databaseUrl, pool: db.pool, config: config.webhooks, log: opts.log, readiness })
    : null;
  await webhooks?.start();
  // IMAGE_RETENTION_DAYS / JOB_RETENTION_DAYS are swept wherever a worker runs.
  const retention = config.embeddedWorker ? new RetentionSweeper({ pool: db.pool, artifacts, config: config.retention, log: opts.log }) : null;
  retention?.start();
  const urls = new UrlSigner(await loadUrlSigningSecret(db.pool));
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
    limits: config.http,
    notices: events,
    readiness,
    labelling: config.labelling,
    // On the public port unless METRICS_ADDRESS gives metrics a listener of their own (below).
    metrics: config.observability.metricsAddress ? null : { token: config.observability.metricsToken, otherwise: 'admin-key', pool: db.pool },
    urls,
    context: (apiKey, publicUrl) => ({ db, apiKey, events, artifacts, config, publicUrl, urls, upstream: opts.provider }),
  });
  const stopObserving = observeLive({ subscriptions: () => events.subscriberCount(), queueDepth: () => countLiveJobs(db.pool) });
  const address = config.observability.metricsAddress;
  const metricsHttp: RunningWorkerHttp | null = address
    ? await startWorkerHttpServer({
        ...address,
        routes: { '/metrics': metricsHandler({ token: config.observability.metricsToken, otherwise: 'open' }) },
      })
    : null;
  if (metricsHttp) componentLogger('http').info({ url: `${metricsHttp.url}/metrics` }, 'metrics listening');
  return {
    url: http.url,
    metricsUrl: metricsHttp?.url ?? null,
    db,
    artifacts,
    events,
    readiness,
    worker,
    webhooks,
    retention,
    async close() {
      stopObserving();
      await metricsHttp?.close();
      await http.close();
      await worker?.stop();
      await providers?.close();
      await webhooks?.stop();
      await retention?.stop();
      await events.stop();
      await db.close();
      await artifacts.close();
      await tracing.shutdown();
    },
  };
}
