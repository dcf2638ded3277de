import { createRequire } from 'node:module';
import { defineConfig } from 'vitest/config';

const require = createRequire(import.meta.url);

export default defineConfig({
  resolve: {
    // Node loads graphql's CommonJS entry for the dependencies (Pothos, Apollo); Vite
    // would give the project's own files the .mjs one, and graphql refuses to mix
    // types from the two ("from another module or realm").
    alias: [{ find: /^graphql$/, replacement: require.resolve('graphql') }],
  },
  test: {
    include: ['test/**/*.test.ts'],
    // The service logs JSON lines to stdout (src/util/logger.ts); in-process tests keep
    // them to warnings. Processes tests spawn log at info (test/support/processes.ts).
    env: { LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn' },
    globalSetup: ['test/support/global-setup.ts'],
    // Tests wait for conditions, never for fixed times (test/support/wait.ts); these
    // bounds only end a test that hangs, and are long enough for a machine ten
    // times slower than a quiet one (scripts/test-under-load.sh).
    testTimeout: 300_000,
    hookTimeout: 300_000,
    // Each file gets its own database (see test/support/db.ts), so files may run in parallel.
    fileParallelism: true,
    // Three files at once on two cores: most of a file's time is spent waiting on
    // processes, sockets and upstream steps, and the tests tolerate a busy machine.
    // Measured on the quiet 2-core machine: 4m21s with two, 3m49s with three.
    maxWorkers: 3,
  },
});
