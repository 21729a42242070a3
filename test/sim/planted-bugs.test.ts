import { describe, expect, it } from 'vitest';
import type { PlantedBugs } from '../../src/core/types.js';
import { Simulator, type SimulatorOptions } from '../../src/testing/sim/simulator.js';

/**
 * Evidence that the simulator catches real Raft bugs: each planted bug
 * (a test-only switch in the core) must be caught by the safety invariants,
 * the liveness phase or the linearizability check within a bounded number of
 * seeds, while the unmodified core passes exactly the same seeds.
 * Runs are deterministic, so the seed that catches a bug is the same on
 * every machine; the bounds leave room for code changes that move it.
 */
interface Case {
  readonly bug: keyof PlantedBugs;
  readonly label: string;
  /** Where the fault mix matters, the swarm profile that makes the bug's trigger likely. */
  readonly options?: Partial<SimulatorOptions>;
  readonly maxSeeds: number;
}

const FIGURE_8: Partial<SimulatorOptions> = {
  nodes: 3,
  steps: 4000,
  // Leaders that die right after election and slow disks leave old-term
  // entries replicated without the new leader's own entry (Figure 8).
  profile: { newLeaderCrashRate: 0.5, maxEntriesPerAppend: 1, maxInflightMessages: 1, maxSyncMs: 20, faultIntervalMs: 50 },
};

const CASES: readonly Case[] = [
  { bug: 'skipUpToDateCheck', label: '(a) votes granted without the §5.4.1 up-to-date check', maxSeeds: 100 },
  { bug: 'commitOldTermByCounting', label: '(b) an earlier term entry committed by counting (Figure 8)', options: FIGURE_8, maxSeeds: 1000 },
  {
    bug: 'truncateWithoutConflict',
    label: '(c) log truncated on a duplicated or reordered AppendEntries',
    options: { profile: { maxEntriesPerAppend: 1 } },
    maxSeeds: 300,
  },
  {
    bug: 'voteBeforePersist',
    label: '(d) vote reply sent before the vote is durable',
    options: { nodes: 3, profile: { maxSyncMs: 20 } },
    maxSeeds: 600,
  },
  { bug: 'ignoreHigherTermInResponse', label: '(e) no step-down on a higher term in a response', maxSeeds: 50 },
  { bug: 'readBeforeLeaderCommit', label: "(f) ReadIndex served before the leader's first entry commits", maxSeeds: 300 },
  { bug: 'applyUncommitted', label: '(g) entries applied before they commit', maxSeeds: 20 },
];

describe('the simulator catches each planted Raft bug', () => {
  for (const c of CASES) {
    it(`${c.label}: caught within ${c.maxSeeds} seeds; the real core passes the same seeds`, async () => {
      let caughtAt = -1;
      let property = '';
      for (let seed = 1; seed <= c.maxSeeds; seed++) {
        const result = await new Simulator({ seed, ...c.options, plantedBugs: { [c.bug]: true } }).run();
        if (!result.ok) {
          caughtAt = seed;
          property = result.violation!.property;
          expect(result.replay).toContain(`--seed ${seed}`);
          expect(result.replay).toContain(`--bug ${c.bug}`);
          break;
        }
      }
      expect(caughtAt, `${c.bug} was not caught in ${c.maxSeeds} seeds`).toBeGreaterThan(0);
      console.log(`planted bug ${c.bug}: caught at seed ${caughtAt} by ${property}`);
      for (let seed = 1; seed <= caughtAt; seed++) {
        const clean = await new Simulator({ seed, ...c.options }).run();
        expect(clean.violation, `unmodified core, seed ${seed}`).toBeNull();
      }
    }, 120_000);
  }
});
