// Every knob the service reads from its environment, in one place, typed.
// A value that does not parse is a start-up error naming the variable.
import { resolve } from 'node:path';
import { parseAllowList, type AllowEntry } from './net/allow-list.js';
import { loadPriceTable, type PriceTable } from './services/pricing.js';

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
  webhooks: WebhooksConfig;
  limits: { maxImageBytes: number; maxBodyBytes: number };
  upstream: UpstreamConfig;
  /** Which provider runs jobs that name none, and the local engine's settings. */
  providers: ProvidersConfig;
  /** What each job costs (src/services/pricing.ts): the defaults, with PRICES (JSON) replacing models it names. */
  prices: PriceTable;
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
  /** After each paid job, read the account's remaining credits and record it beside the charge. */
  creditReadings: boolean;
}

export interface WorkerConfig {
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
    webhooks: webhooksConfig(env),
    worker: {
      concurrency: int(env, 'WORKER_CONCURRENCY', 8, 1),
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
    },
    upstream: {
      maxConcurrency: int(env, 'UPSTREAM_MAX_CONCURRENCY', 8, 1),
      ratePerMinute: int(env, 'UPSTREAM_RATE_PER_MINUTE', 0),
      rateWindowMs: int(env, 'UPSTREAM_RATE_WINDOW_MS', 60_000, 100),
      requestTimeoutMs: int(env, 'UPSTREAM_REQUEST_TIMEOUT_MS', 120_000, 100),
      callTimeoutMs: int(env, 'UPSTREAM_CALL_TIMEOUT_MS', 30_000, 100),
      creditReadings: bool(env, 'UPSTREAM_CREDIT_READINGS', true),
    },
    prices: loadPriceTable(env.PRICES),
    providers: providersConfig(env),
  };
}

function providersConfig(env: Env): ProvidersConfig {
  const raw = env.SWAPYARD_PROVIDER || (env.SEGMIND_API_KEY ? 'segmind' : 'local');
  if (!PROVIDER_NAMES.includes(raw as ProviderName)) {
    throw new Error(`SWAPYARD_PROVIDER must be one of ${PROVIDER_NAMES.join(', ')}, got "${raw}"`);
  }
  return {
    default: raw as ProviderName,
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
