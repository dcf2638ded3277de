// npm run keys:revoke -- <id|name>: revokes an API key for good. Its requests are
// refused from now on and every API process closes its open WebSocket
// connections (the same statement as the revokeApiKey mutation).
import { revokeApiKey } from '../services/api-keys.js';
import { withCliDb } from './cli-db.js';
import { keyNamedBy } from './key-options.js';

const args = process.argv.slice(2);
if (args.length !== 1 || args[0]!.startsWith('-')) {
  console.error('usage: npm run keys:revoke -- <id|name>   (npm run keys:list shows them)');
  process.exit(2);
}
// Revoking a revoked key succeeds and changes nothing, as the mutation does.
const { message, exitCode } = await withCliDb(async (pool) => {
  const key = await keyNamedBy(pool, args[0]!);
  if (typeof key === 'string') return { message: key, exitCode: 1 };
  if (key.revokedAt) return { message: `API key "${key.name}" (${key.id}) was already revoked at ${key.revokedAt.toISOString()}.`, exitCode: 0 };
  const revoked = (await revokeApiKey(pool, key.id))!;
  return {
    message: `Revoked API key "${revoked.name}" (${revoked.id}) at ${revoked.revokedAt!.toISOString()}; its open connections are being closed.`,
    exitCode: 0,
  };
});
(exitCode === 0 ? console.log : console.error)(message);
process.exit(exitCode);
