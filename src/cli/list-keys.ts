// npm run keys:list: every API key (never its secret), oldest first, with its state.
import { listApiKeys } from '../services/api-keys.js';
import { withCliDb } from './cli-db.js';
import { keyState } from './key-options.js';

const keys = await withCliDb(listApiKeys);
const rows = [
  ['id', 'name', 'prefix', 'admin', 'created', 'state'],
  ...keys.map((k) => [k.id, k.name, `${k.prefix}…`, k.isAdmin ? 'yes' : 'no', k.createdAt.toISOString(), keyState(k)]),
];
const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
for (const row of rows) console.log(row.map((cell, i) => cell.padEnd(widths[i]!)).join('  ').trimEnd());
