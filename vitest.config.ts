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
    globalSetup: ['test/support/global-setup.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Each file gets its own database (see test/support/db.ts), so files may run in parallel.
    fileParallelism: true,
    maxWorkers: 2,
  },
});
