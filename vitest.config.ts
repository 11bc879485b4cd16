import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const pkg = (name: string) => fileURLToPath(new URL(`./packages/${name}/src/index.ts`, import.meta.url));

export default defineConfig({
  resolve: {
    // Tests run against the TypeScript sources, never a stale dist/.
    alias: [
      // Package tests reach the shared test harness by name, never by ../../../ paths.
      {
        find: /^@agentkey\/test-support\/(.*)$/,
        replacement: fileURLToPath(new URL('./test/support/$1', import.meta.url)),
      },
      ...Object.entries({
        '@agentkey/core': pkg('core'),
        '@agentkey/express': pkg('express'),
        '@agentkey/oidc': pkg('oidc'),
        '@agentkey/auth0': pkg('auth0'),
        '@agentkey/clerk': pkg('clerk'),
        '@agentkey/redis': pkg('redis'),
        '@agentkey/cli': pkg('cli'),
        '@agentkey/access': pkg('access'),
        '@agentkey/console': pkg('console'),
      }).map(([find, replacement]) => ({ find, replacement })),
    ],
  },
  test: {
    projects: [
      {
        extends: true,
        test: { name: 'default', include: ['packages/*/test/**/*.test.ts', 'test/**/*.test.ts'] },
      },
      // The core suite again through a private PgBouncer in transaction pooling mode
      // (test/support/pgbouncer.ts): what a deployment past one machine's pooling runs.
      {
        extends: true,
        test: {
          name: 'core-pgbouncer',
          include: ['packages/core/test/**/*.test.ts'],
          env: { AGENTKEY_TEST_PGBOUNCER: '1' },
        },
      },
      // The core suite again with a Redis write-through counter in front of PostgreSQL
      // (test/support/counter.ts, read by test/support/db.ts).
      {
        extends: true,
        test: {
          name: 'core-counter',
          include: ['packages/core/test/**/*.test.ts'],
          env: { AGENTKEY_TEST_COUNTER: 'redis' },
        },
      },
    ],
    globalSetup: ['test/support/global-setup.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Two cores here: more workers only thrash the database they share.
    maxWorkers: 2,
  },
});
