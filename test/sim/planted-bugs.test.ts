import { describe, expect, it } from 'vitest';
import type { PlantedBugs } from '../../src/core/types.js';
import { NO_PATTERNS, type SimulatorOptions } from '../../src/testing/sim/sim-options.js';
import { Simulator } from '../../src/testing/sim/simulator.js';

/**
 * Evidence that the simulator catches real Raft bugs: each planted bug
 * (a test-only switch in the core) must be caught within a bounded number of
 * seeds, while the unmodified core passes exactly the same seeds. The bugs
 * that break one rule of the protocol must be caught by the invariant that
 * checks that rule, at the moment it breaks, not by a later consequence.
 * Runs are deterministic, so the seed that catches a bug is the same on
 * every machine; the bounds leave room for code changes that move it.
 */
interface Case {
  readonly bug: keyof PlantedBugs;
  readonly label: string;
  /** Where the fault mix matters, the options that make the bug's trigger likely. */
  readonly options?: Partial<SimulatorOptions>;
  readonly maxSeeds: number;
  /** The property that must report the bug (any, for the bugs that only have consequences). */
  readonly rule?: string;
  /** Other rules the same bug breaks just as directly; a seed they catch first is skipped. */
  readonly alsoBreaks?: readonly string[];
}

const FIGURE_8: Partial<SimulatorOptions> = {
  nodes: 3,
  steps: 4000,
  // Leaders that die right after election and slow disks leave old-term
  // entries replicated without the new leader's own entry (Figure 8).
  profile: {
    newLeaderCrashRate: 0.5,
    maxEntriesPerAppend: 1,
    maxInflightMessages: 1,
    maxSyncMs: 20,
    faultIntervalMs: 50,
  },
};

/** A leader cut off from the others stays leader without CheckQuorum; a client that reads anywhere finds it. */
const STALE_LEADER: Partial<SimulatorOptions> = {
  checkQuorum: false,
  faults: { crashes: false },
  patterns: { roamingReader: true },
};

/** Three nodes, one left far behind at a time, and no trailing entries: followers come back through snapshots. */
const FAR_BEHIND: Partial<SimulatorOptions> = {
  nodes: 3,
  patterns: { farBehind: true },
  snapshots: { trailing: 0 },
};

const CASES: readonly Case[] = [
  { bug: 'skipUpToDateCheck', label: '(a) votes granted without the §5.4.1 up-to-date check', maxSeeds: 100 },
  {
    bug: 'commitOldTermByCounting',
    label: '(b) an earlier term entry committed by counting (Figure 8)',
    options: FIGURE_8,
    maxSeeds: 100,
    rule: 'Leader commits only entries of its term by counting',
  },
  {
    bug: 'truncateWithoutConflict',
    label: '(c) log truncated on a duplicated or reordered AppendEntries',
    options: { profile: { maxEntriesPerAppend: 1 } },
    maxSeeds: 100,
  },
  {
    bug: 'voteBeforePersist',
    label: '(d) vote reply sent before the vote is durable',
    options: { nodes: 3, profile: { maxSyncMs: 20 } },
    maxSeeds: 100,
    rule: 'Term and vote survive a crash',
  },
  { bug: 'ignoreHigherTermInResponse', label: '(e) no step-down on a higher term in a response', maxSeeds: 50 },
  {
    bug: 'readBeforeLeaderCommit',
    label: "(f) ReadIndex served before the leader's first entry commits",
    maxSeeds: 100,
    rule: 'Read index covers prior commits',
  },
  { bug: 'applyUncommitted', label: '(g) entries applied before they commit', maxSeeds: 20 },
  {
    bug: 'keepDurableMarkOnConflict',
    label: '(n) replacements of durable entries counted as durable before they are written',
    maxSeeds: 50,
    rule: 'Durable prefix on disk',
  },
  {
    bug: 'forgetVoteOnStepDown',
    label: '(h) a vote forgotten on stepping down within the term',
    maxSeeds: 50,
    rule: 'One vote per server per term',
  },
  {
    bug: 'ackBeforePersist',
    label: '(i) append acknowledged before the entries are durable',
    maxSeeds: 20,
    rule: 'Acknowledged entries are durable',
  },
  {
    bug: 'optimisticMatch',
    label: '(j) match index taken from what was sent, not what was acknowledged',
    options: { profile: { maxEntriesPerAppend: 1, maxInflightMessages: 64 } },
    maxSeeds: 20,
    rule: "Match index within the follower's durable log",
  },
  {
    bug: 'halfQuorum',
    label: '(k) half the voters counted as a quorum (even cluster sizes)',
    options: { nodes: 4 },
    maxSeeds: 50,
    rule: 'Commit only what a quorum stores',
    // The core uses the same count for votes: a leader may win with half the votes too.
    alsoBreaks: ['Leader elected by a quorum'],
  },
  {
    bug: 'countPreVoteAsVote',
    label: '(l) a late pre-vote grant counted as a vote',
    options: { preVote: true },
    maxSeeds: 20,
    rule: 'Leader elected by a quorum',
  },
  {
    bug: 'readWithoutConfirmation',
    label: '(m) ReadIndex served without a heartbeat round confirming leadership',
    options: STALE_LEADER,
    maxSeeds: 100,
    rule: 'Read index covers prior commits',
  },
  {
    bug: 'snapshotAboveCommit',
    label: '(o) snapshots taken at the last log index, above the commit index',
    maxSeeds: 20,
    rule: 'Snapshots cover only committed entries',
  },
  {
    bug: 'keepConflictingSuffix',
    label: '(p) a snapshot installed over a conflicting log keeps the entries after it (Figure 13, step 6 skipped)',
    options: FAR_BEHIND,
    maxSeeds: 50,
    rule: 'An installed snapshot replaces a conflicting log (Figure 13)',
  },
];

describe('the simulator catches each planted Raft bug', () => {
  for (const c of CASES) {
    const by = c.rule === undefined ? '' : ` by "${c.rule}"`;
    it(`${c.label}: caught${by} within ${c.maxSeeds} seeds; the real core passes the same seeds`, async () => {
      let caughtAt = -1;
      let property = '';
      for (let seed = 1; seed <= c.maxSeeds; seed++) {
        const result = await new Simulator({ seed, ...c.options, plantedBugs: { [c.bug]: true } }).run();
        if (result.ok) continue;
        property = result.violation!.property;
        if (c.alsoBreaks?.includes(property)) continue;
        caughtAt = seed;
        expect(result.replay).toContain(`--seed ${seed}`);
        expect(result.replay).toContain(`--bug ${c.bug}`);
        break;
      }
      expect(caughtAt, `${c.bug} was not caught in ${c.maxSeeds} seeds`).toBeGreaterThan(0);
      if (c.rule !== undefined) expect(property, `${c.bug} at seed ${caughtAt}`).toBe(c.rule);
      console.log(`planted bug ${c.bug}: caught at seed ${caughtAt} by ${property}`);
      for (let seed = 1; seed <= caughtAt; seed++) {
        const clean = await new Simulator({ seed, ...c.options }).run();
        expect(clean.violation, `unmodified core, seed ${seed}`).toBeNull();
      }
    }, 120_000);
  }

  it('the roaming reader finds stale-leader reads that clients bound to the leader miss on the same seeds', async () => {
    // The pattern earns its place: the other clients wait out their write timeouts on a deposed leader.
    const caught = async (roamingReader: boolean): Promise<number> => {
      let n = 0;
      for (let seed = 1; seed <= 20; seed++) {
        const options = {
          ...STALE_LEADER,
          patterns: { ...NO_PATTERNS, roamingReader },
          plantedBugs: { readWithoutConfirmation: true },
        };
        if (!(await new Simulator({ seed, ...options }).run()).ok) n++;
      }
      return n;
    };
    expect(await caught(true)).toBeGreaterThan(await caught(false));
  }, 60_000);
});
