import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // Concurrency tests start real worker threads; two cores, so keep files from piling up.
    maxWorkers: 2,
    // Every document the command line writes under test is validated against the shipped schema
    // (schema/results.schema.json, with ajv) before it is written; one that does not conform
    // fails its command with an internal error.
    env: { NESTSIM_SELF_CHECK: 'schema' },
  },
});
