// npm run keys:create -- <name> [--admin] [--expires <when>]: prints a new API key
// once; only its hash is stored. Admin keys see every key's spend, set budgets
// and revoke keys. <when> is an ISO 8601 time or a duration from now: 90m, 12h, 30d.
import { createApiKey, keyNameProblem } from '../services/api-keys.js';
import { withCliDb } from './cli-db.js';
import { parseExpiry } from './key-options.js';

const USAGE = 'usage: npm run keys:create -- <name> [--admin] [--expires <ISO 8601 time | 90m | 12h | 30d>]';

function fail(message: string): never {
  console.error(message);
  process.exit(2);
}

const args = process.argv.slice(2);
let admin = false;
let expiresAt: Date | null = null;
const names: string[] = [];
for (let i = 0; i < args.length; i++) {
  const arg = args[i]!;
  if (arg === '--admin') admin = true;
  else if (arg === '--expires') {
    const when = args[++i];
    expiresAt = when === undefined ? null : parseExpiry(when);
    if (!expiresAt) fail(`--expires must be an ISO 8601 time or a duration such as 90m, 12h or 30d, got ${JSON.stringify(when ?? '')}\n${USAGE}`);
    if (expiresAt.getTime() <= Date.now()) fail(`--expires must be in the future, got ${expiresAt.toISOString()}`);
  } else names.push(arg);
}
const [name, ...rest] = names;
if (!name || rest.length > 0 || name.startsWith('-')) fail(USAGE);
const nameProblem = keyNameProblem(name);
if (nameProblem) fail(`<name> ${nameProblem.message}\n${USAGE}`);

const { id, secret } = await withCliDb((pool) => createApiKey(pool, name, { admin, expiresAt }));
const until = expiresAt ? `, expires ${expiresAt.toISOString()}` : '';
console.log(`${admin ? 'Admin API key' : 'API key'} "${name}" (${id}${until}):\n${secret}`);
