// npm run keys:create -- <name> [--admin]: prints a new API key once; only its hash is stored.
// Admin keys see every key's spend and set budgets.
import { prepareDatabase } from '../app.js';
import { loadConfig } from '../config.js';
import { connectDb } from '../db/client.js';
import { createApiKey } from '../services/api-keys.js';

const args = process.argv.slice(2);
const admin = args.includes('--admin');
const [name, ...rest] = args.filter((a) => a !== '--admin');
if (!name || rest.length > 0 || name.startsWith('-')) {
  console.error('usage: npm run keys:create -- <name> [--admin]');
  process.exit(2);
}
const config = loadConfig();
const url = config.databaseUrl ?? `postgresql://postgres:postgres@127.0.0.1:${config.embeddedPgPort}/swapyard`;
await prepareDatabase(url);
const db = connectDb(url, { max: 1 });
const { id, secret } = await createApiKey(db.pool, name, { admin });
await db.close();
console.log(`${admin ? 'Admin API key' : 'API key'} "${name}" (${id}):\n${secret}`);
