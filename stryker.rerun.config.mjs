// @ts-check
/**
 * Re-tests mutants that timed out in a `npm run mutate` run on a busy
 * machine, on a quiet one: a mutant that only ran slow then survives (and is
 * triaged), one that never ends still times out. Same time budget as the
 * main run, which was sized for a quiet machine.
 * Usage: npx stryker run stryker.rerun.config.mjs --mutate "<ranges>"
 * (`npx tsx scripts/mutation-survivors.ts --timeout-ranges` prints them).
 */
import base from './stryker.config.mjs';

export default {
  ...base,
  incremental: false,
  jsonReporter: { fileName: 'reports/mutation/rerun.json' },
  htmlReporter: { fileName: 'reports/mutation/rerun.html' },
};
