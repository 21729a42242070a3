// @ts-check
/**
 * `npm run mutate`: mutation testing of the core and the shell's ready loop
 * (issue 9). Each mutant is typechecked first (stryker.tsconfig.json: src
 * only; one that does not compile is never run), then tested with
 * vitest.mutation.config.ts: the core's unit tests and a simulation soak.
 * Per-test coverage runs only the tests that execute a mutant; the soak is
 * one test per seed for that reason. Reports go to reports/mutation/.
 *
 * @type {import('@stryker-mutator/api/core').PartialStrykerOptions}
 */
export default {
  packageManager: 'npm',
  testRunner: 'vitest',
  vitest: { configFile: 'vitest.mutation.config.ts' },
  checkers: ['typescript'],
  tsconfigFile: 'stryker.tsconfig.json',
  // Types-only files hold nothing to mutate.
  mutate: ['src/core/**/*.ts', '!src/core/types.ts', '!src/core/context.ts', 'src/shell/ready-loop.ts'],
  coverageAnalysis: 'perTest',
  // One test runner per core. Once type checking is done every worker runs
  // tests, so more workers than cores only turn slow mutants into timeouts
  // (a run with 4 on this 2-core machine timed out 150 of 956).
  concurrency: 2,
  // Reuses the results of mutants whose code and covering tests did not
  // change since the last run (the triage adds tests; only what they cover is run again).
  incremental: true,
  incrementalFile: 'reports/mutation/stryker-incremental.json',
  // A mutant that loops forever (a retry storm, an election that never ends)
  // is stopped at twice its tests' normal time plus this, and counted as detected.
  timeoutMS: 10_000,
  timeoutFactor: 2,
  reporters: ['progress', 'clear-text', 'html', 'json'],
  htmlReporter: { fileName: 'reports/mutation/mutation.html' },
  jsonReporter: { fileName: 'reports/mutation/mutation.json' },
  tempDirName: '.stryker-tmp',
  cleanTempDir: true,
};
