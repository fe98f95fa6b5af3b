import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // Concurrency tests start real worker threads; two cores, so keep files from piling up.
    maxWorkers: 2,
  },
});
