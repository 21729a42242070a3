import { defineConfig } from 'vitest/config';

/**
 * The tests Stryker runs against each mutant (`npm run mutate`): the core's
 * unit tests, the ready loop's unit tests and the simulation soak. Not the lint test of the core's
 * purity: it reads src/core as text, and Stryker's instrumented copy of it
 * is not what the rules are about.
 */
export default defineConfig({
  test: {
    include: ['test/core/**/*.test.ts', 'test/shell/ready-loop.test.ts', 'test/sim/soak.mutation.ts'],
    exclude: ['test/core/purity.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
  },
});
