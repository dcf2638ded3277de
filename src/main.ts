// `npm start`: the whole service on embedded defaults. Without DATABASE_URL it
// runs an embedded PostgreSQL in .swapyard/; without SEGMIND_API_KEY it runs
// the emulator of the Segmind API on loopback; the worker runs in-process
// unless SWAPYARD_EMBEDDED_WORKER=false. On first start it creates an API key.
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type pg from 'pg';
import { startApp } from './app.js';
import { loadConfig } from './config.js';
import { startEmbeddedPostgres } from './db/embedded-postgres.js';
import { startEmulator } from './emulator/index.js';
import { countApiKeys, createApiKey } from './services/api-keys.js';
import { EMULATOR_API_KEY, providerFromConfig } from './services/providers/index.js';

const config = loadConfig();
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
  console.log(`\nCreated the first API key, an admin key (also saved to ${file}):\n\n  ${secret}\n`);
}

async function main(): Promise<void> {
  let databaseUrl = config.databaseUrl;
  if (!databaseUrl) {
    const embedded = await startEmbeddedPostgres({ dataDir: config.dataDir, port: config.embeddedPgPort });
    stops.push(embedded.stop);
    databaseUrl = embedded.url;
    console.log(`Embedded PostgreSQL: ${databaseUrl} (data in ${join(config.dataDir, 'pg')})`);
  }
  if (!config.segmind.apiKey && !process.env.SEGMIND_BASE_URL) {
    const emulator = await startEmulator({ port: Number(process.env.EMULATOR_PORT ?? 8787), apiKey: EMULATOR_API_KEY });
    stops.push(() => emulator.close());
    config.segmind.baseUrl = emulator.url;
    console.log(`No SEGMIND_API_KEY: jobs with provider SEGMIND run against the Segmind API emulator at ${emulator.url}`);
  }
  console.log(config.providers.default === 'local'
    ? 'Jobs that name no provider run on the local engine (this CPU; faceswap-v2, v3 multi, v4 face swaps)'
    : `Jobs that name no provider run on ${config.providers.default}`);
  // startApp migrates the database before it serves anything.
  const app = await startApp({ config, databaseUrl, provider: providerFromConfig(config) });
  stops.unshift(() => app.close());
  await firstApiKey(app.db.pool);
  console.log(`Swapyard GraphQL API: ${app.url}/graphql (subscriptions: ws://${app.url.slice('http://'.length)}/graphql)`);
}

let stopping = false;
async function shutdown(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  console.log(`\n${signal}: shutting down`);
  for (const stop of stops) await stop().catch((err) => console.error(err));
  process.exit(0);
}
process.on('SIGINT', () => void shutdown('SIGINT'));
process.on('SIGTERM', () => void shutdown('SIGTERM'));

main().catch(async (err) => {
  console.error(err);
  for (const stop of stops) await stop().catch(() => {});
  process.exit(1);
});
