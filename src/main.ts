// `npm start`: the whole service on embedded defaults. Without DATABASE_URL it
// runs an embedded PostgreSQL in .swapyard/; without SEGMIND_API_KEY it runs
// the emulator of the Segmind API on loopback; the worker runs in-process
// unless SWAPYARD_EMBEDDED_WORKER=false. On first start it creates an API key.
import { chmod, mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type pg from 'pg';
import { startApp } from './app.js';
import { emulatorUrlFile, loadConfig, type Config } from './config.js';
import { serviceDatabase } from './db/embedded-postgres.js';
import { startEmulator } from './emulator/index.js';
import { countApiKeys, createApiKey } from './services/api-keys.js';
import { EMULATOR_API_KEY, providerFromConfig } from './services/providers/index.js';
import { describeStartupFailure } from './util/startup-error.js';
import { componentLogger } from './util/logger.js';

const log = componentLogger('main');

let config!: Config;
const stops: (() => Promise<void>)[] = [];

async function firstApiKey(pool: pg.Pool): Promise<void> {
  if ((await countApiKeys(pool)) > 0) return;
  // The installation's first key is its owner's: an admin key (budgets, everyone's spend).
  const { secret } = await createApiKey(pool, 'default', { admin: true });
  // Kept beside the embedded data so the README's examples can read it; the database holds only its hash.
  await mkdir(config.dataDir, { recursive: true });
  const file = join(config.dataDir, 'api-key');
  await writeFile(file, `${secret}\n`);
  await chmod(file, 0o600);
  // Shown to the person at the terminal, never logged: when stdout is not a terminal it is a
  // log stream that is shipped and kept, so the key is only in the file (mode 0600).
  if (process.stdout.isTTY) process.stdout.write(`\nCreated the first API key, an admin key (also saved to ${file}):\n\n  ${secret}\n\n`);
  log.info({ file }, `created the first API key, an admin key, saved to ${file}`);
}

async function main(): Promise<void> {
  config = loadConfig();
  const database = await serviceDatabase(config, 'own', (line) => log.info(line));
  stops.push(database.stop);
  const databaseUrl = database.url;
  if (!config.databaseUrl) log.info({ dataDir: join(config.dataDir, 'pg') }, `Embedded PostgreSQL: ${databaseUrl} (data in ${join(config.dataDir, 'pg')})`);
  if (!config.segmind.apiKey && !process.env.SEGMIND_BASE_URL) {
    const emulator = await startEmulator({ port: emulatorPort(), apiKey: EMULATOR_API_KEY });
    stops.push(() => emulator.close());
    config.segmind.baseUrl = emulator.url;
    // Workers of this data directory send their SEGMIND jobs here too (worker-main.ts).
    await mkdir(config.dataDir, { recursive: true });
    await writeFile(emulatorUrlFile(config.dataDir), `${emulator.url}\n`);
    stops.push(() => rm(emulatorUrlFile(config.dataDir), { force: true }));
    log.info(`No SEGMIND_API_KEY: jobs with provider SEGMIND run against the Segmind API emulator at ${emulator.url}`);
  }
  log.info(config.providers.default === 'local'
    ? 'Jobs that name no provider run on the local engine (this CPU; faceswap-v2, v3 multi, v4 face swaps)'
    : `Jobs that name no provider run on ${config.providers.default}`);
  // startApp migrates the database before it serves anything.
  const app = await startApp({ config, databaseUrl, provider: providerFromConfig(config) });
  stops.unshift(() => app.close());
  await firstApiKey(app.db.pool);
  log.info({ url: `${app.url}/graphql` }, `Swapyard GraphQL API: ${app.url}/graphql (subscriptions: ws://${app.url.slice('http://'.length)}/graphql)`);
}

let stopping = false;
async function shutdown(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  log.info({ signal }, `${signal}: shutting down`);
  for (const stop of stops) await stop().catch((err) => log.error({ err }, 'stopping failed'));
  process.exit(0);
}
process.on('SIGINT', () => void shutdown('SIGINT'));
process.on('SIGTERM', () => void shutdown('SIGTERM'));

function emulatorPort(): number {
  return Number(process.env.EMULATOR_PORT ?? 8787);
}

main().catch(async (err) => {
  const ports: Record<number, string> = { [emulatorPort()]: 'EMULATOR_PORT' };
  if (config) ports[config.port] = 'PORT';
  console.error(describeStartupFailure(err, ports));
  for (const stop of stops) await stop().catch(() => {});
  process.exit(1);
});
