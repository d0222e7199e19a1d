import { defineConfig } from 'vitest/config';
import LongestFirstSequencer from './test/sequencer.js';

export default defineConfig({
  resolve: {
    // Vite would pick graphql's ESM build for our code while Node loads its CommonJS build for the
    // libraries; one schema then meets two copies of graphql. Use the one Node uses.
    alias: [{ find: /^graphql$/, replacement: 'graphql/index.js' }],
  },
  test: {
    include: ['test/**/*.test.ts'],
    // Migrates one database of each kind per run; test servers start from copies of them.
    globalSetup: ['test/global-setup.ts'],
    // Long files start first, also where no earlier run recorded durations.
    sequence: { sequencer: LongestFirstSequencer },
    pool: 'forks',
    testTimeout: 180_000,
    hookTimeout: 300_000,
    // Each file gets its own databases; two cores are shared by PGlite, PostgreSQL and the tests.
    maxWorkers: 2,
    // CI asks for a JSON report too, to print a one-line summary of the run.
    reporters: process.env.VITEST_JSON_REPORT ? ['default', 'json'] : ['default'],
    outputFile: process.env.VITEST_JSON_REPORT ? { json: process.env.VITEST_JSON_REPORT } : undefined,
  },
});
