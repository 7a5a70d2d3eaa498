import { defineConfig } from 'vitest/config';

// graphql ships a development build under the `development` export condition, which Vite
// resolves for our sources while Node loads the production build for yoga and Pothos: two copies
// of GraphQLError, and `instanceof` checks between them fail. Resolve as Node does.
const nodeConditions = ['module-sync', 'node', 'import', 'default'];

export default defineConfig({
  resolve: { conditions: nodeConditions },
  ssr: { resolve: { conditions: nodeConditions, externalConditions: nodeConditions } },
  test: {
    // In CI a JSON report as well, from which .ci/run prints its closing "N passed, N failed".
    reporters: process.env['CI']
      ? ['default', ['json', { outputFile: '.ci/vitest-report.json' }]]
      : ['default'],
    projects: [
      {
        extends: true,
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts'],
        },
      },
      {
        extends: true,
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          // One real Synapse for the whole run (or the homeserver named in the environment).
          globalSetup: ['test/support/global-setup.ts'],
          testTimeout: 30_000,
          hookTimeout: 60_000,
        },
      },
      {
        extends: true,
        test: {
          name: 'e2e',
          include: ['test/e2e/**/*.e2e.ts'],
          globalSetup: ['test/support/global-setup.ts'],
          testTimeout: 60_000,
          hookTimeout: 60_000,
        },
      },
      {
        extends: true,
        test: {
          name: 'browser',
          include: ['test/browser/**/*.browser.ts'],
          // Debian's Chromium (installed when missing), then the homeserver as for the others.
          globalSetup: ['test/browser/global-setup.ts', 'test/support/global-setup.ts'],
          testTimeout: 120_000,
          hookTimeout: 120_000,
        },
      },
    ],
  },
});
