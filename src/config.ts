// Every knob the service reads from its environment, in one place, typed.
// A value that does not parse is a start-up error naming the variable.
import { join, resolve } from 'node:path';
import { parseAllowList, type AllowEntry } from './net/allow-list.js';
import { loadC2paCredentials, type C2paCredentials } from './config/c2pa-credentials.js';
import { loadPriceTable, type PriceTable } from './models/prices.js';
import { logLevel } from './util/logger.js';

export interface Config {
  host: string;
  port: number;
  /** Base URL clients use to reach this service; output URLs are built from it. */
  publicUrl: string | null;
  /** A real PostgreSQL; when absent the service starts an embedded one. */
  databaseUrl: string | null;
  dataDir: string;
  embeddedPgPort: number;
  segmind: { apiKey: string | null; baseUrl: string };
  /** Run the worker inside the API process (the embedded default). */
  embeddedWorker: boolean;
  worker: WorkerConfig;
  /** Where a worker process (npm run worker) serves /healthz and /readyz; 0 picks a free port. */
  workerPort: number;
  /** How the event hub makes up for a lost LISTEN connection (src/services/event-hub.ts). */
  events: EventsConfig;
  webhooks: WebhooksConfig;
  limits: { maxImageBytes: number; maxBodyBytes: number; maxResponseBytes: number };
  /** What one GraphQL operation may ask for, over HTTP and graphql-ws (src/server/operation-limits.ts). */
  operations: OperationLimits;
  /** Browser origins allowed to call the API (CORS); empty: none, ["*"]: any. */
  corsOrigins: string[];
  upstream: UpstreamConfig;
  /** Which provider runs jobs that name none, and the local engine's settings. */
  providers: ProvidersConfig;
  /** What each job costs (src/services/pricing.ts): the defaults, with PRICES (JSON) replacing models it names. */
  prices: PriceTable;
  /** What one API key may hold and send (src/server/key-limits.ts). */
  keyLimits: KeyLimitsConfig;
  /** Node's HTTP server limits (src/server/http-server.ts). */
  http: HttpServerLimits;
  /** How long finished jobs keep their images and their rows (src/services/job-retention.ts). */
  retention: RetentionConfig;
  /** Logs, metrics and traces (src/util/logger.ts, metrics.ts, tracing.ts). */
  observability: ObservabilityConfig;
  /** How served outputs say they are synthetic (src/services/labelling.ts). */
  labelling: LabellingConfig;
  /** Where outputs and inline inputs live (src/services/artifact-stores.ts). */
  artifacts: ArtifactsConfig;
}

export const ARTIFACT_STORES = ['local', 'postgres', 's3'] as const;
export type ArtifactStoreKind = (typeof ARTIFACT_STORES)[number];

/**
 * `local`: a folder under SWAPYARD_DATA_DIR (API and workers must share it);
 * `postgres`: the service's own database; `s3`: an S3-compatible bucket.
 */
export interface ArtifactsConfig {
  store: ArtifactStoreKind;
  /** Set whenever S3_BUCKET is (and required for `s3`), so the move command can name s3 as either side. */
  s3: S3Config | null;
}

export interface S3Config {
  bucket: string;
  /** An S3-compatible server's URL (MinIO, Ceph, …); null for AWS itself. */
  endpoint: string | null;
  region: string;
  /** Path-style URLs (endpoint/bucket/key), which custom endpoints usually need; the default when S3_ENDPOINT is set. */
  forcePathStyle: boolean;
  /** Both or neither; neither: the AWS SDK's default chain (AWS_* variables, instance roles, …). */
  accessKeyId: string | null;
  secretAccessKey: string | null;
  connectTimeoutMs: number;
  requestTimeoutMs: number;
}

export interface RetentionConfig {
  /** Days after a job finished that its images are erased; 0: kept. */
  imageDays: number;
  /** Days after a job finished that it becomes a tombstone (deleted); 0: kept. */
  jobDays: number;
  /** How often a worker runs the sweep. */
  sweepIntervalMs: number;
}

/**
 * How long a client may take and how many may connect: Node's defaults
 * (300 s for a request, no connection cap) let slow or idle clients hold
 * sockets for minutes. 0 turns a limit off.
 */
export interface HttpServerLimits {
  /** Time to receive a request's headers (HTTP_HEADERS_TIMEOUT_MS). */
  headersTimeoutMs: number;
  /** Time to receive a whole request, body included (HTTP_REQUEST_TIMEOUT_MS). */
  requestTimeoutMs: number;
  /** How long an idle keep-alive connection stays open (HTTP_KEEP_ALIVE_TIMEOUT_MS). */
  keepAliveTimeoutMs: number;
  /** Open connections (HTTP and WebSocket) the process accepts; more are closed at once (HTTP_MAX_CONNECTIONS). */
  maxConnections: number;
}

export interface ObservabilityConfig {
  /** LOG_LEVEL: fatal, error, warn, info (default), debug, trace or silent. */
  logLevel: string;
  /**
   * METRICS_TOKEN: /metrics wants `Authorization: Bearer <token>`. Without it, the
   * API's port takes an admin API key, a METRICS_ADDRESS listener anyone who reaches
   * it, and a worker's port loopback clients (src/server/metrics-endpoint.ts).
   */
  metricsToken: string | null;
  /** METRICS_ADDRESS (host:port): the API serves /metrics there instead of on its public port. */
  metricsAddress: { host: string; port: number } | null;
  /** WORKER_HOST: where a separate worker's own HTTP port (WORKER_PORT: health, metrics) listens; HOST by default. */
  workerHost: string;
  /** OTEL_EXPORTER_OTLP_ENDPOINT: tracing on, spans exported over OTLP/HTTP; null: off. */
  otlpEndpoint: string | null;
  /** OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: the full traces URL, when it is not `<endpoint>/v1/traces`. */
  otlpTracesUrl: string | null;
}

/** Synthetic-media labels on every output served (EU AI Act Art. 50(2)); on by default. */
export interface LabellingConfig {
  /** The XMP label (IPTC DigitalSourceType, job id, model, provider); false only with DISABLE_SYNTHETIC_MEDIA_LABEL=true. */
  xmp: boolean;
  /** C2PA_SIGNING_KEY and C2PA_CERTIFICATE, when both are set: a signed C2PA manifest in JPEG, PNG and WebP outputs (and output thumbnails). */
  c2pa: C2paCredentials | null;
}

export function labellingConfig(env: Env): LabellingConfig {
  return { xmp: !bool(env, 'DISABLE_SYNTHETIC_MEDIA_LABEL', false), c2pa: loadC2paCredentials(env) };
}

export const RATE_LIMIT_STORES = ['memory', 'postgres'] as const;
export type RateLimitStore = (typeof RATE_LIMIT_STORES)[number];

/** Per-key limits; 0 turns a limit off. */
export interface KeyLimitsConfig {
  /** GraphQL requests (HTTP POST/GET, graphql-ws subscribe messages) and output downloads per key per second. */
  requestsPerSecond: number;
  /**
   * Where the request counters live: `memory` (per API process, so N processes
   * allow a key N times the rate) or `postgres` (one counter per key shared by
   * every API process, at one upsert per request).
   */
  rateLimitStore: RateLimitStore;
  /** Open graphql-ws connections per key, on one API process. */
  socketsPerKey: number;
  /** Operations running at once on one graphql-ws connection (subscriptions, and queries while they run). */
  subscriptionsPerSocket: number;
}

export const PROVIDER_NAMES = ['segmind', 'local'] as const;
export type ProviderName = (typeof PROVIDER_NAMES)[number];

export interface ProvidersConfig {
  /** For jobs that name no provider: segmind when SEGMIND_API_KEY is set, else local. */
  default: ProviderName;
  /** Worker threads of the local engine; 0 = one per core. */
  localThreads: number;
  /**
   * Origins the local engine may fetch inputs from although they are private
   * or loopback: host AND port each (a bare host is a start-up error), the
   * host matched as the URL spells it (a name does not match its address).
   */
  localFetchAllowHosts: AllowEntry[];
}

/** How hard the workers may press the upstream (src/services/providers/limits.ts). */
export interface UpstreamConfig {
  /** Upstream calls (submits and polls) one worker process makes at once. */
  maxConcurrency: number;
  /**
   * Submissions all workers sharing the database may send per window (a
   * counter in PostgreSQL); 0 turns the limit off. Segmind's plans allow 5 or
   * 50 requests a minute, and more on higher tiers.
   */
  ratePerMinute: number;
  /** The window `ratePerMinute` counts over: a minute, unless a test shortens it. */
  rateWindowMs: number;
  /** Deadline of a synchronous (v1) call and of an output download. */
  requestTimeoutMs: number;
  /** Deadline of an async submit or a poll, which the upstream answers at once. */
  callTimeoutMs: number;
  /** After paid jobs, read the account's remaining credits and record it beside the charge. */
  creditReadings: boolean;
  /** At most one such reading per upstream key per this interval (credit-readings.ts). */
  creditReadingIntervalMs: number;
  /** How long after acceptance a v2 request's 404 means "not visible yet" rather than gone. */
  visibilityGraceMs: number;
}

export interface WorkerConfig {
  /**
   * Jobs one worker holds at once (WORKER_CONCURRENCY, 16). Under load a job is
   * in hand ~30 ms of its own 4 ms (its moves wait for the batch before them),
   * so 8 capped one process near 250 jobs/s and the rest waited for the
   * overflow wake-up; 16 also makes the batches of moves twice as large
   * (PERFORMANCE §12). Upstream calls stay capped by UPSTREAM_MAX_CONCURRENCY.
   */
  concurrency: number;
  /** How long a claimed job stays locked to its worker without a heartbeat. */
  leaseMs: number;
  /** Poll cadence per asynchronous protocol (the vendor's: 1 s for the v2 queue, 7 s for workflows). */
  pollIntervalMs: { queue: number; workflow: number };
  /** How long after submission a job may run before it ends FAILED with TIMEOUT. */
  deadlineMs: number;
  /** How often an idle worker looks for due jobs when no notification wakes it. */
  idlePollMs: number;
  /** First delay of the exponential backoff for transient upstream failures. */
  retryBaseMs: number;
  retryMaxMs: number;
  /** On stop, how long steps in flight may finish before they are aborted (an aborted send is an unknown outcome). */
  shutdownGraceMs: number;
}

export interface EventsConfig {
  /** Subscriptions are ended with EVENTS_INTERRUPTED when the LISTEN connection has been down this long. */
  maxOutageMs: number;
  /** …or when more events of their key than this were missed, instead of being replayed. */
  maxReplayEvents: number;
}

/** Checked before an operation runs; each is a MAX_QUERY_* variable. */
export interface OperationLimits {
  /** Lexical tokens of the query text, counted before it is parsed. */
  maxTokens: number;
  /** Aliased fields (`a: jobs`), `__typename` included. */
  maxAliases: number;
  /** Directives (`@include`, `@skip`, …). */
  maxDirectives: number;
  /** Nesting of fields; a root field is depth 1. */
  maxDepth: number;
  /** Fields counted 1 each, what a list selects multiplied by its page size (`first`/`last`, else 20) or by 10 for a list without paging. */
  maxCost: number;
}

type Env = Record<string, string | undefined>;

function int(env: Env, name: string, fallback: number, min = 0): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min) {
    throw new Error(`${name} must be an integer ≥ ${min}, got "${raw}"`);
  }
  return value;
}

function oneOf<T extends string>(env: Env, name: string, values: readonly T[], fallback: T): T {
  const raw = env[name] || fallback;
  if (!values.includes(raw as T)) throw new Error(`${name} must be one of ${values.join(', ')}, got "${raw}"`);
  return raw as T;
}

function bool(env: Env, name: string, fallback: boolean): boolean {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if (['1', 'true', 'yes', 'on'].includes(raw.toLowerCase())) return true;
  if (['0', 'false', 'no', 'off'].includes(raw.toLowerCase())) return false;
  throw new Error(`${name} must be true or false, got "${raw}"`);
}

export function defaultWorkerConfig(): WorkerConfig {
  return loadConfig({}).worker;
}

/** Where `npm start` records the URL of the emulator it runs, for the workers of its data directory. */
export const emulatorUrlFile = (dataDir: string) => join(dataDir, 'emulator.url');

export function loadConfig(env: Env = process.env): Config {
  const host = env.HOST || '127.0.0.1';
  const port = int(env, 'PORT', 4000);
  return {
    host,
    port,
    publicUrl: env.PUBLIC_URL || null,
    databaseUrl: env.DATABASE_URL || null,
    dataDir: resolve(env.SWAPYARD_DATA_DIR || '.swapyard'),
    embeddedPgPort: int(env, 'EMBEDDED_PG_PORT', 54329, 1),
    segmind: {
      apiKey: env.SEGMIND_API_KEY || null,
      baseUrl: (env.SEGMIND_BASE_URL || 'https://api.segmind.com').replace(/\/+$/, ''),
    },
    embeddedWorker: bool(env, 'SWAPYARD_EMBEDDED_WORKER', true),
    workerPort: int(env, 'WORKER_PORT', 4001),
    events: {
      maxOutageMs: int(env, 'EVENTS_MAX_OUTAGE_MS', 60_000, 100),
      maxReplayEvents: int(env, 'EVENTS_MAX_REPLAY', 5_000, 1),
    },
    webhooks: webhooksConfig(env),
    retention: {
      imageDays: int(env, 'IMAGE_RETENTION_DAYS', 0, 0),
      jobDays: int(env, 'JOB_RETENTION_DAYS', 0, 0),
      sweepIntervalMs: int(env, 'RETENTION_SWEEP_INTERVAL_MS', 3_600_000, 10),
    },
    worker: {
      concurrency: int(env, 'WORKER_CONCURRENCY', 16, 1),
      leaseMs: int(env, 'WORKER_LEASE_MS', 60_000, 1000),
      pollIntervalMs: {
        queue: int(env, 'POLL_INTERVAL_QUEUE_MS', 1000, 10),
        workflow: int(env, 'POLL_INTERVAL_WORKFLOW_MS', 7000, 10),
      },
      deadlineMs: int(env, 'JOB_DEADLINE_MS', 600_000, 1000),
      idlePollMs: int(env, 'WORKER_IDLE_POLL_MS', 1000, 10),
      retryBaseMs: int(env, 'RETRY_BASE_MS', 1000, 1),
      retryMaxMs: int(env, 'RETRY_MAX_MS', 60_000, 1),
      shutdownGraceMs: int(env, 'WORKER_SHUTDOWN_GRACE_MS', 30_000),
    },
    limits: {
      maxImageBytes: int(env, 'MAX_IMAGE_BYTES', 10 * 1024 * 1024, 1),
      maxBodyBytes: int(env, 'MAX_BODY_BYTES', 32 * 1024 * 1024, 1024),
      maxResponseBytes: int(env, 'MAX_RESPONSE_BYTES', 32 * 1024 * 1024, 1024),
    },
    operations: {
      maxTokens: int(env, 'MAX_QUERY_TOKENS', 2_000, 1),
      maxAliases: int(env, 'MAX_QUERY_ALIASES', 30),
      maxDirectives: int(env, 'MAX_QUERY_DIRECTIVES', 50),
      maxDepth: int(env, 'MAX_QUERY_DEPTH', 10, 1),
      maxCost: int(env, 'MAX_QUERY_COST', 10_000, 1),
    },
    corsOrigins: corsOrigins(env),
    upstream: {
      maxConcurrency: int(env, 'UPSTREAM_MAX_CONCURRENCY', 8, 1),
      ratePerMinute: int(env, 'UPSTREAM_RATE_PER_MINUTE', 0),
      rateWindowMs: int(env, 'UPSTREAM_RATE_WINDOW_MS', 60_000, 100),
      requestTimeoutMs: int(env, 'UPSTREAM_REQUEST_TIMEOUT_MS', 120_000, 100),
      callTimeoutMs: int(env, 'UPSTREAM_CALL_TIMEOUT_MS', 30_000, 100),
      creditReadings: bool(env, 'UPSTREAM_CREDIT_READINGS', true),
      creditReadingIntervalMs: int(env, 'UPSTREAM_CREDIT_READING_INTERVAL_MS', 60_000),
      visibilityGraceMs: int(env, 'UPSTREAM_VISIBILITY_GRACE_MS', 30_000),
    },
    prices: loadPriceTable(env.PRICES),
    providers: providersConfig(env),
    keyLimits: keyLimitsConfig(env),
    http: httpServerLimits(env),
    observability: observabilityConfig(env),
    labelling: labellingConfig(env),
    artifacts: artifactsConfig(env),
  };
}

function artifactsConfig(env: Env): ArtifactsConfig {
  const store = oneOf(env, 'ARTIFACT_STORE', ARTIFACT_STORES, 'local');
  if (store === 's3' && !env.S3_BUCKET) throw new Error('ARTIFACT_STORE=s3 needs S3_BUCKET (the bucket to keep artifacts in)');
  return { store, s3: env.S3_BUCKET ? s3Config(env, env.S3_BUCKET) : null };
}

function s3Config(env: Env, bucket: string): S3Config {
  const endpoint = env.S3_ENDPOINT || null;
  if (endpoint !== null) {
    let url: URL | null = null;
    try {
      url = new URL(endpoint);
    } catch {}
    // Credentials in the URL would be printed in start-up messages; they have their own variables.
    if (!url || !/^https?:$/.test(url.protocol) || url.username || url.password) {
      throw new Error(`S3_ENDPOINT must be an http(s) URL without credentials, such as http://127.0.0.1:9000, got "${endpoint.replace(/\/\/[^/@]*@/, '//…@')}"`);
    }
  }
  const accessKeyId = env.S3_ACCESS_KEY_ID || null;
  const secretAccessKey = env.S3_SECRET_ACCESS_KEY || null;
  if (!accessKeyId !== !secretAccessKey) {
    throw new Error('S3_ACCESS_KEY_ID and S3_SECRET_ACCESS_KEY must be set together (or neither, for the AWS SDK\'s default credentials)');
  }
  return {
    bucket,
    endpoint,
    region: env.S3_REGION || 'us-east-1',
    forcePathStyle: bool(env, 'S3_FORCE_PATH_STYLE', endpoint !== null),
    accessKeyId,
    secretAccessKey,
    connectTimeoutMs: int(env, 'S3_CONNECT_TIMEOUT_MS', 5_000, 1),
    requestTimeoutMs: int(env, 'S3_REQUEST_TIMEOUT_MS', 30_000, 1),
  };
}

function hostPort(env: Env, name: string): { host: string; port: number } | null {
  const raw = env[name]?.trim();
  if (!raw) return null;
  const m = /^(\[[0-9a-fA-F:.]+\]|[^:\s]+):(\d{1,5})$/.exec(raw);
  if (!m || Number(m[2]) > 65535) throw new Error(`${name} must be host:port (e.g. 127.0.0.1:9464), got "${raw}"`);
  return { host: m[1]!.replace(/^\[|\]$/g, ''), port: Number(m[2]) };
}

function observabilityConfig(env: Env): ObservabilityConfig {
  const endpoint = env.OTEL_EXPORTER_OTLP_ENDPOINT?.trim() || null;
  for (const name of ['OTEL_EXPORTER_OTLP_ENDPOINT', 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT']) {
    const value = env[name]?.trim();
    if (value && !/^https?:\/\/[^\s]+$/.test(value)) throw new Error(`${name} must be an http(s) URL, got "${value}"`);
  }
  return {
    logLevel: logLevel(env),
    metricsToken: env.METRICS_TOKEN || null,
    metricsAddress: hostPort(env, 'METRICS_ADDRESS'),
    workerHost: env.WORKER_HOST || env.HOST || '127.0.0.1',
    otlpEndpoint: endpoint,
    otlpTracesUrl: env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT?.trim() || null,
  };
}

function httpServerLimits(env: Env): HttpServerLimits {
  const limits = {
    headersTimeoutMs: int(env, 'HTTP_HEADERS_TIMEOUT_MS', 20_000),
    requestTimeoutMs: int(env, 'HTTP_REQUEST_TIMEOUT_MS', 60_000),
    keepAliveTimeoutMs: int(env, 'HTTP_KEEP_ALIVE_TIMEOUT_MS', 5_000),
    maxConnections: int(env, 'HTTP_MAX_CONNECTIONS', 20_000),
  };
  // Node refuses a headers timeout longer than the request timeout (the request's includes its headers).
  if (limits.requestTimeoutMs > 0 && (limits.headersTimeoutMs === 0 || limits.headersTimeoutMs > limits.requestTimeoutMs)) {
    throw new Error(`HTTP_HEADERS_TIMEOUT_MS (${limits.headersTimeoutMs}) must be between 1 and HTTP_REQUEST_TIMEOUT_MS (${limits.requestTimeoutMs}) when that is set`);
  }
  return limits;
}

function keyLimitsConfig(env: Env): KeyLimitsConfig {
  return {
    requestsPerSecond: int(env, 'API_KEY_REQUESTS_PER_SECOND', 100),
    rateLimitStore: oneOf(env, 'API_KEY_RATE_LIMIT_STORE', RATE_LIMIT_STORES, 'memory'),
    socketsPerKey: int(env, 'API_KEY_MAX_SOCKETS', 50),
    subscriptionsPerSocket: int(env, 'WS_MAX_SUBSCRIPTIONS_PER_SOCKET', 100),
  };
}

/** CORS_ORIGINS: comma-separated origins (scheme://host[:port]), or "*" for any. */
function corsOrigins(env: Env): string[] {
  const origins = (env.CORS_ORIGINS ?? '').split(',').map((o) => o.trim()).filter(Boolean);
  for (const origin of origins) {
    if (origin === '*') continue;
    let parsed: URL | null = null;
    try {
      parsed = new URL(origin);
    } catch {}
    if (!parsed || !/^https?:$/.test(parsed.protocol) || parsed.origin !== origin) {
      throw new Error(`CORS_ORIGINS must list origins such as https://app.example.com (scheme, host and port only) or "*", got "${origin}"`);
    }
  }
  return origins;
}

function providersConfig(env: Env): ProvidersConfig {
  return {
    default: oneOf(env, 'SWAPYARD_PROVIDER', PROVIDER_NAMES, env.SEGMIND_API_KEY ? 'segmind' : 'local'),
    localThreads: int(env, 'LOCAL_ENGINE_THREADS', 0),
    localFetchAllowHosts: parseAllowList(env.LOCAL_FETCH_ALLOW_HOSTS, 'LOCAL_FETCH_ALLOW_HOSTS'),
  };
}

/** Webhook delivery (src/services/webhook-dispatcher.ts); endpoints are managed over GraphQL. */
export interface WebhooksConfig {
  /** Delay before each retry after a failed attempt; when it runs out the delivery ends FAILED. */
  retryScheduleMs: number[];
  /** Deadline of one attempt (connect, answer, first KB of the body). */
  timeoutMs: number;
  /** Let endpoints reach loopback, private and link-local addresses (off: that would let any key probe the server's network). */
  allowPrivate: boolean;
  /** Deliveries one dispatcher sends at once. */
  concurrency: number;
  /** How often an idle dispatcher looks for due deliveries when no notification wakes it. */
  idlePollMs: number;
}

/** Standard Webhooks' (Svix's) schedule: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h after the first attempt. */
export const DEFAULT_WEBHOOK_RETRY_SCHEDULE_MS = [5_000, 300_000, 1_800_000, 7_200_000, 18_000_000, 36_000_000, 36_000_000];

function webhooksConfig(env: Env): WebhooksConfig {
  const raw = env.WEBHOOK_RETRY_SCHEDULE_MS;
  let retryScheduleMs = [...DEFAULT_WEBHOOK_RETRY_SCHEDULE_MS];
  if (raw !== undefined && raw.trim() !== '') {
    retryScheduleMs = raw.split(',').map((part) => {
      const value = Number(part.trim());
      if (part.trim() === '' || !Number.isInteger(value) || value < 0) {
        throw new Error(`WEBHOOK_RETRY_SCHEDULE_MS must be a comma-separated list of integers ≥ 0 (milliseconds), got "${raw}"`);
      }
      return value;
    });
  }
  return {
    retryScheduleMs,
    timeoutMs: int(env, 'WEBHOOK_TIMEOUT_MS', 15_000, 10),
    allowPrivate: bool(env, 'WEBHOOK_ALLOW_PRIVATE', false),
    concurrency: int(env, 'WEBHOOK_CONCURRENCY', 16, 1),
    idlePollMs: int(env, 'WEBHOOK_IDLE_POLL_MS', 1000, 10),
  };
}
