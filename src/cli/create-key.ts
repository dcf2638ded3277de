// npm run keys:create -- <name>: prints a new API key once; only its hash is stored.
import { prepareDatabase } from '../app.js';
import { loadConfig } from '../config.js';
import { connectDb } from '../db/client.js';
import { createApiKey } from '../services/api-keys.js';

const name = process.argv[2];
if (!name) {
  console.error('usage: npm run keys:create -- <name>');
  process.exit(2);
}
const config = loadConfig();
const url = config.databaseUrl ?? `postgresql://postgres:postgres@127.0.0.1:${config.embeddedPgPort}/swapyard`;
await prepareDatabase(url);
const db = connectDb(url, { max: 1 });
const { id, secret } = await createApiKey(db.pool, name);
await db.close();
console.log(`API key "${name}" (${id}):\n${secret}`);
