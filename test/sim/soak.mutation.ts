/**
 * The simulation soak of the mutation run (`npm run mutate`, not `npm test`):
 * a few hundred seeds with every fault and every pattern on, one test per
 * seed so that Stryker's per-test coverage runs, for each mutant, only the
 * seeds that execute it, and stops at the first seed that fails.
 */
import { describe, expect, it } from 'vitest';
import { ALL_FAULTS, ALL_PATTERNS } from '../../src/testing/sim/sim-options.js';
import { Simulator } from '../../src/testing/sim/simulator.js';

/** Sized to Stryker's budget: about ten seconds for all of them on one core before instrumentation. */
const SOAK_SEEDS = 300;

describe('mutation soak: every fault and pattern on', () => {
  for (let seed = 1; seed <= SOAK_SEEDS; seed++) {
    it(`seed ${seed} keeps every invariant and rule, liveness and linearizability`, async () => {
      const result = await new Simulator({ seed, faults: ALL_FAULTS, patterns: ALL_PATTERNS }).run();
      expect(result.violation, result.ok ? '' : `${result.replay}\n${result.trace}`).toBeNull();
    });
  }
});
