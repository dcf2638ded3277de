import { defineConfig } from 'vitest/config';

export default defineConfig({
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
