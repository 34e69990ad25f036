import { defineConfig } from 'vitest/config';

// Two projects: `unit` needs nothing but Node; `integration` gets one globalSetup that starts the real registries
// (plain HTTP, TLS + htpasswd, token auth) and builds the peer-made fixtures once per run. Tests reach the lab through
// inject('lab').
export default defineConfig({
  test: {
    pool: 'forks',
    // The JSON report is what .ci/run turns into its closing "N passed, N failed" line.
    reporters: ['default', ['json', { outputFile: '.vitest-results.json' }]],
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts'],
          testTimeout: 60_000,
        },
      },
      {
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          globalSetup: ['test/lab/global-setup.ts'],
          testTimeout: 120_000,
          hookTimeout: 180_000,
        },
      },
    ],
  },
});
