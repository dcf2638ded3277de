// npm run artifacts:move -- --to <local|postgres|s3> [--from <store>] [--delete-source] [--concurrency n]
// Copies every artifact (and output receipt) from one store (by default the
// configured ARTIFACT_STORE) to another, each checked against its sha256, and
// prints the counts. Safe to run again: what is already there is verified and
// skipped. Exit 2 for bad arguments, 1 when a store cannot be used or any
// artifact could not be copied.
import { parseArgs } from 'node:util';
import { ARTIFACT_STORES, loadConfig, type ArtifactStoreKind, type Config } from '../config.js';
import { prepareDatabase } from '../db/migrations.js';
import { ArtifactStoreUnavailable } from '../services/artifact-store-unavailable.js';
import { openArtifactStore } from '../services/artifact-stores.js';
import type { ArtifactStore } from '../services/artifacts.js';
import { moveArtifacts } from '../services/artifact-move.js';
import { withCliDatabaseUrl } from './cli-db.js';

const USAGE = `usage: npm run artifacts:move -- --to <${ARTIFACT_STORES.join('|')}> [--from <store>] [--delete-source] [--concurrency n]`;

function usage(message: string): never {
  console.error(`${message}\n${USAGE}`);
  process.exit(2);
}

function storeKind(value: string | undefined, flag: string): ArtifactStoreKind {
  if (!ARTIFACT_STORES.includes(value as ArtifactStoreKind)) usage(`${flag} must be one of ${ARTIFACT_STORES.join(', ')}, got "${value ?? ''}"`);
  return value as ArtifactStoreKind;
}

function parse() {
  try {
    return parseArgs({
      options: { from: { type: 'string' }, to: { type: 'string' }, 'delete-source': { type: 'boolean' }, concurrency: { type: 'string' } },
      strict: true,
    }).values;
  } catch (err) {
    usage((err as Error).message); // an unknown option, a missing value or a stray argument
  }
}

function settings(): { config: Config; from: ArtifactStoreKind; to: ArtifactStoreKind; deleteSource: boolean; concurrency: number } {
  const args = parse();
  if (args.to === undefined) usage('--to is required: the store to move the artifacts into');
  const to = storeKind(args.to, '--to');
  let config: Config;
  try {
    config = loadConfig();
  } catch (err) {
    console.error(`Cannot move artifacts: ${(err as Error).message}`);
    process.exit(1);
  }
  const from = storeKind(args.from ?? config.artifacts.store, args.from ? '--from' : 'ARTIFACT_STORE (the default --from)');
  if (from === to) usage(`--from and --to are both ${from}: nothing to move`);
  for (const side of [from, to]) {
    if (side === 's3' && !config.artifacts.s3) usage('the s3 store needs S3_BUCKET (and S3_ENDPOINT for a server other than AWS)');
  }
  const concurrency = Number(args.concurrency ?? 4);
  if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 64) usage(`--concurrency must be an integer from 1 to 64, got "${args.concurrency}"`);
  return { config, from, to, deleteSource: args['delete-source'] ?? false, concurrency };
}

async function move(s: ReturnType<typeof settings>, databaseUrl: string): Promise<number> {
  const opened: ArtifactStore[] = [];
  try {
    const source = await openArtifactStore(s.config, databaseUrl, s.from);
    opened.push(source);
    const destination = await openArtifactStore(s.config, databaseUrl, s.to);
    opened.push(destination);
    console.log(`Moving artifacts from ${s.from} to ${s.to}${s.deleteSource ? ' (deleting each from the source once copied)' : ''}…`);
    const counts = await moveArtifacts(source, destination, {
      deleteSource: s.deleteSource, concurrency: s.concurrency,
      onFailure: (key, reason) => console.error(`failed ${key}: ${reason}`),
    });
    console.log(`${s.from} → ${s.to}: ${counts.listed} listed, ${counts.copied} copied, ${counts.present} already there, ${counts.failed} failed`
      + (s.deleteSource ? `, ${counts.deleted} deleted from ${s.from}` : '')
      + (counts.receipts ? `; ${counts.receipts} output receipt(s) moved` : ''));
    return counts.failed ? 1 : 0;
  } catch (err) {
    if (err instanceof ArtifactStoreUnavailable) {
      console.error(`Cannot move artifacts: ${err.message}`);
      return 1;
    }
    throw err;
  } finally {
    for (const store of opened) await store.close();
  }
}

const s = settings();
// The database is needed only when one side is PostgreSQL: found as the service finds it (cli-db.ts), and migrated.
const run = s.from === 'postgres' || s.to === 'postgres'
  ? withCliDatabaseUrl(async (url) => {
      await prepareDatabase(url);
      return move(s, url);
    })
  : move(s, 'postgresql://unused');
run.then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(`Cannot move artifacts: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  },
);
