// `prisma generate` without Prisma's binary download. Every prisma CLI command
// first tries to fetch the native schema engine from outside the npm registry;
// it skips that when PRISMA_SCHEMA_ENGINE_BINARY names an existing file.
// generate never runs that engine, so a stub that explains itself is enough.
// Migrations go through the wasm engine instead: see src/db/migrations.ts.
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const stub = join(root, 'node_modules', '.cache', 'swapyard', 'schema-engine-stub');
if (!existsSync(stub)) {
  mkdirSync(dirname(stub), { recursive: true });
  writeFileSync(
    stub,
    '#!/bin/sh\necho "The native Prisma schema engine is not installed here; use npm run db:migrate / db:migration:new (wasm engine)." >&2\nexit 1\n',
  );
  chmodSync(stub, 0o755);
}
const cli = join(root, 'node_modules', 'prisma', 'build', 'index.js');
const run = spawnSync(process.execPath, [cli, 'generate'], {
  cwd: root,
  stdio: 'inherit',
  env: {
    ...process.env,
    PATH: `${join(root, 'node_modules', '.bin')}:${process.env.PATH ?? ''}`,
    PRISMA_SCHEMA_ENGINE_BINARY: stub,
    PRISMA_HIDE_UPDATE_MESSAGE: '1',
  },
});
process.exit(run.status ?? 1);
