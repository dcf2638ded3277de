// A whole service for a test file: its own database, an emulator of the
// Segmind API on loopback, the app on a random port, and an API key. The
// GraphQL client speaks real HTTP; subscriptions use a real graphql-ws client.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClient, type Client } from 'graphql-ws';
import { Agent, fetch as undiciFetch } from 'undici';
import WebSocket from 'ws';
import { startApp, type App } from '../../src/app.js';
import { loadConfig, type Config } from '../../src/config.js';
import { startEmulator, type Emulator, type EmulatorOptions } from '../../src/emulator/index.js';
import { createApiKey } from '../../src/services/api-keys.js';
import { providerFromConfig } from '../../src/services/providers/index.js';
import { createTestDatabase } from './db.js';
import { FAST_CADENCES, NO_KEY_LIMITS } from './fast-env.js';
import { PATIENCE_MS, waitUntil } from './wait.js';

/**
 * Upstream steps for tests that assert the whole QUEUED → PROCESSING → COMPLETED
 * sequence: each state lasts until a poll has reported it, so a busy machine
 * that polls late still sees every state.
 */
export const OBSERVABLE_STEPS: EmulatorOptions = { pacedByPolls: true, latencyMs: { sync: 5, queueStep: 60, workflowStep: 60 } };

/**
 * The test client's connections: idle ones are dropped after 1 s, well inside the
 * server's 5 s keep-alive. With the client's default (the server's hint less 1 s),
 * a busy machine could send a request on a socket the server was closing that
 * moment, and the request failed with ECONNRESET (seen under load).
 */
const testClientAgent = new Agent({ keepAliveTimeout: 1_000, keepAliveMaxTimeout: 1_000 });

/** Fast cadences so a job runs end to end in tens of milliseconds. */
export const FAST_ENV: Record<string, string> = {
  PORT: '0',
  WORKER_PORT: '0',
  // The emulator runs every model; tests of the local engine ask for it per job.
  SWAPYARD_PROVIDER: 'segmind',
  ...FAST_CADENCES,
  ...NO_KEY_LIMITS,
};

export interface GqlResponse<T = any> {
  status: number;
  data?: T;
  errors?: { message: string; extensions?: Record<string, any> }[];
}

export interface TestApp {
  app: App;
  emulator: Emulator;
  config: Config;
  databaseUrl: string;
  key: string;
  url: string;
  wsUrl: string;
  gql<T = any>(query: string, variables?: Record<string, unknown>, key?: string | null): Promise<GqlResponse<T>>;
  newKey(name?: string, opts?: { admin?: boolean }): Promise<string>;
  wsClient(key?: string): Client;
  close(): Promise<void>;
}

export async function startTestApp(
  opts: {
    worker?: boolean; env?: Record<string, string>; emulator?: EmulatorOptions; databaseUrl?: string;
    /** Sees the SQL text of every statement the app's pool sends. */
    onQuery?: (sql: string) => void;
    /** Gets the service's log lines (dropped by default). */
    log?: (line: string) => void;
  } = {},
): Promise<TestApp> {
  const dataDir = await mkdtemp(join(tmpdir(), 'swapyard-test-'));
  const databaseUrl = opts.databaseUrl ?? (await createTestDatabase());
  const emulator = await startEmulator({ latencyMs: { sync: 5, queueStep: 30, workflowStep: 30 }, ...opts.emulator });
  const config = loadConfig({
    ...FAST_ENV,
    SWAPYARD_DATA_DIR: dataDir,
    SWAPYARD_EMBEDDED_WORKER: String(opts.worker ?? true),
    SEGMIND_BASE_URL: emulator.url,
    ...opts.env,
  });
  const app = await startApp({ config, databaseUrl, provider: providerFromConfig(config), log: opts.log ?? (() => {}), onQuery: opts.onQuery });
  const { secret } = await createApiKey(app.db.pool, 'test');
  const wsUrl = `${app.url.replace('http', 'ws')}/graphql`;
  const clients: Client[] = [];

  async function gql<T>(query: string, variables?: Record<string, unknown>, key: string | null = secret) {
    const res = await undiciFetch(`${app.url}/graphql`, {
      dispatcher: testClientAgent,
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(key ? { authorization: `Bearer ${key}` } : {}) },
      body: JSON.stringify({ query, variables }),
    });
    const body = (await res.json()) as GqlResponse<T>;
    return { ...body, status: res.status };
  }

  return {
    app,
    emulator,
    config,
    databaseUrl,
    key: secret,
    url: app.url,
    wsUrl,
    gql,
    async newKey(name = 'other', opts: { admin?: boolean } = {}) {
      return (await createApiKey(app.db.pool, name, opts)).secret;
    },
    wsClient(key = secret) {
      const client = createClient({
        url: wsUrl,
        webSocketImpl: WebSocket,
        connectionParams: { authorization: `Bearer ${key}` },
        retryAttempts: 0,
      });
      clients.push(client);
      return client;
    },
    async close() {
      for (const c of clients) await c.dispose();
      await app.close();
      await emulator.close();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/** Polls job(id) until it reaches a final status (the worker runs in the background). */
export async function waitForFinal(
  t: TestApp,
  id: string,
  { key, timeoutMs = PATIENCE_MS }: { key?: string; timeoutMs?: number } = {},
): Promise<any> {
  let last: GqlResponse | undefined;
  return waitUntil(
    async () => {
      last = await t.gql(`query($id: ID!) { job(id: $id) { id status failure { code message } } }`, { id }, key);
      const job = last.data?.job;
      return job && ['COMPLETED', 'FAILED', 'CANCELED'].includes(job.status) ? job : undefined;
    },
    () => `job ${id} not final: ${JSON.stringify(last)}`,
    { timeoutMs, everyMs: 25 },
  );
}

/** Runs a subscription and collects its events until `done` says so. */
export function collect<T = any>(
  client: Client,
  query: string,
  variables: Record<string, unknown>,
  done: (events: T[]) => boolean,
  timeoutMs = PATIENCE_MS,
  operationName?: string,
): { events: T[]; finished: Promise<T[]>; cancel(): void } {
  const events: T[] = [];
  let cancel = () => {};
  const finished = new Promise<T[]>((resolve, reject) => {
    const timer = setTimeout(() => {
      cancel();
      reject(new Error(`subscription timed out with ${events.length} events: ${JSON.stringify(events)}`));
    }, timeoutMs);
    cancel = client.subscribe<T>(
      { query, variables, operationName },
      {
        next: (msg) => {
          if (msg.errors) {
            clearTimeout(timer);
            reject(Object.assign(new Error(msg.errors.map((e) => e.message).join('; ')), { errors: msg.errors }));
            return;
          }
          events.push(msg.data as T);
          if (done(events)) {
            clearTimeout(timer);
            cancel();
            resolve(events);
          }
        },
        error: (err) => {
          clearTimeout(timer);
          reject(err instanceof Error ? err : Object.assign(new Error('subscription error'), { detail: err }));
        },
        complete: () => {
          clearTimeout(timer);
          resolve(events);
        },
      },
    );
  });
  return { events, finished, cancel: () => cancel() };
}
