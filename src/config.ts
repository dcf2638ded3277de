// Every knob the service reads from its environment, in one place, typed.
// A value that does not parse is a start-up error naming the variable.
import { resolve } from 'node:path';

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
  limits: { maxImageBytes: number; maxBodyBytes: number };
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
    },
    limits: {
      maxImageBytes: int(env, 'MAX_IMAGE_BYTES', 10 * 1024 * 1024, 1),
      maxBodyBytes: int(env, 'MAX_BODY_BYTES', 32 * 1024 * 1024, 1024),
    },
  };
}
