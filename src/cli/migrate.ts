// Prisma Migrate's deploy / create-only / status, run through the wasm schema
// engine because the native one cannot be installed here (src/db/migrations.ts).
//   tsx src/cli/migrate.ts deploy | new <name> | status
import {
  applyMigrations,
  createMigration,
  ensureDatabase,
  migrationStatus,
} from '../db/migrations.js';
import { withCliDatabaseUrl } from './cli-db.js';

const USAGE = 'usage: tsx src/cli/migrate.ts deploy | new <name> | status';

async function main(argv: string[], databaseUrl: string): Promise<number> {
  const [command, ...rest] = argv;
  const log = (line: string) => console.error(line);

  if (command !== 'deploy' && command !== 'new' && command !== 'status') {
    console.error(USAGE);
    return 2;
  }
  if (command === 'new' && rest.length !== 1) {
    console.error('usage: tsx src/cli/migrate.ts new <name>   (npm run db:migration:new -- <name>)');
    return 2;
  }

  await ensureDatabase(databaseUrl);
  const started = performance.now();
  const ms = () => `${Math.round(performance.now() - started)} ms`;

  switch (command) {
    case 'deploy': {
      const { applied } = await applyMigrations(databaseUrl, { log });
      console.log(
        applied.length ? `Applied ${applied.length} migration(s) in ${ms()}:\n  ${applied.join('\n  ')}` : `No pending migrations (${ms()}).`,
      );
      return 0;
    }
    case 'new': {
      const result = await createMigration(databaseUrl, rest[0]!);
      if ('empty' in result) {
        console.log(`prisma/schema.prisma matches the migrations folder: nothing to create (${ms()}).`);
      } else {
        console.log(`Created ${result.path}/migration.sql (${ms()}). Review it, then run npm run db:migrate.`);
      }
      return 0;
    }
    case 'status': {
      const s = await migrationStatus(databaseUrl);
      console.log(`${s.migrations.length} migration(s) in prisma/migrations, ${s.applied.length} applied.`);
      const section = (title: string, names: string[]) => {
        if (names.length) console.log(`${title}:\n  ${names.join('\n  ')}`);
      };
      section('Pending', s.pending);
      section('Failed (resolve before deploying)', s.failed);
      section('Edited after being applied', s.edited);
      section('Applied but missing from prisma/migrations', s.unknownToFolder);
      const clean = !s.pending.length && !s.failed.length && !s.edited.length && !s.unknownToFolder.length;
      if (clean) console.log('Database schema is up to date.');
      return clean ? 0 : 1;
    }
  }
}

// The same database as `npm start`, the worker and the key commands (cli-db.ts).
withCliDatabaseUrl((url) => main(process.argv.slice(2), url)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    // Engine errors carry Prisma's code (P3009 ...), which its docs are indexed by.
    const code = (err as { code?: unknown }).code;
    console.error(err instanceof Error ? `${typeof code === 'string' ? `${code}: ` : ''}${err.message}` : err);
    process.exit(1);
  },
);
