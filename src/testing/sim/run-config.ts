import type { SnapshotSettings } from '../../options.js';
import { type FaultProfile, type PatternOptions, type RunConfig, type SimulatorOptions } from './sim-options.js';
import { between, pick, type Random, simRandom } from './sim-random.js';

/** Cluster sizes a seed draws from: every size from 1 to 7, the common odd ones a little more often. */
const SIZES = [1, 2, 3, 3, 4, 4, 5, 5, 6, 7];
const STEPS = 2000;
/** One seed in twenty runs this many times longer, for long histories with many leader changes. */
const LONG_RUN_FACTOR = 5;
const LONG_RUN_RATE = 0.05;
const DEFAULT_TIMEOUT = { min: 150, max: 300 };
const LIVENESS_MS = 10_000;

/**
 * Draws everything about a run that the options leave open, from a stream of
 * its own: every draw is made whether or not an option fixes it, so fixing
 * one option (as `--shrink` does) leaves the others as the seed drew them.
 */
export function drawRunConfig(options: SimulatorOptions): RunConfig {
  const random = simRandom(options.seed ^ 0x2545f491);
  const nodes = pick(random, SIZES);
  const steps = random() < LONG_RUN_RATE ? STEPS * LONG_RUN_FACTOR : STEPS;
  const preVote = random() < 0.7;
  const checkQuorum = random() < 0.7;
  const patterns = drawPatterns(random);
  const profile = drawProfile(random);
  // Drawn after everything else, so that the draws above stay what they were before snapshots existed.
  const snapshots = drawSnapshots(random);
  const farBehind = random() < 0.6;
  const fixed: PatternOptions = { ...patterns, farBehind, ...options.patterns };
  const size = options.nodes ?? nodes;
  const timeouts = drawTimeouts(random, size, fixed.mixedTimeouts);
  const longest = Math.max(...timeouts.map((t) => t.max));
  return {
    nodes: size,
    steps: options.steps ?? steps,
    preVote: options.preVote ?? preVote,
    checkQuorum: options.checkQuorum ?? checkQuorum,
    // §5.6: heartbeats must come well within every node's election timeout, or
    // followers campaign against a healthy leader and liveness is not expected.
    heartbeatIntervalMs: Math.max(1, Math.min(50, Math.floor(Math.min(...timeouts.map((t) => t.min)) / 3))),
    electionTimeoutsMs: timeouts,
    patterns: fixed,
    profile: { ...profile, ...options.profile },
    livenessTimeoutMs: options.livenessTimeoutMs ?? Math.max(LIVENESS_MS, 20 * longest),
    snapshots:
      options.snapshots === false
        ? false
        : options.snapshots === undefined
          ? snapshots.on && snapshots.settings
          : { ...snapshots.settings, ...options.snapshots },
  };
}

function drawPatterns(random: Random): Omit<PatternOptions, 'farBehind'> {
  return {
    mixedTimeouts: random() < 0.4,
    heartbeatLoss: random() < 0.5,
    appendLoss: random() < 0.5,
    linkFlaps: random() < 0.5,
    proposalBursts: random() < 0.5,
    roamingReader: random() < 0.5,
  };
}

/**
 * Snapshot settings far below the defaults: a run commits a few to a few
 * hundred entries, so thresholds of a few entries make nodes snapshot and
 * compact many times per run, trailing counts of zero make a follower that
 * misses a few entries need the snapshot, and small chunks split every
 * transfer into many messages. One seed in ten runs without them.
 */
function drawSnapshots(random: Random): { on: boolean; settings: SnapshotSettings } {
  const on = random() >= 0.1;
  const t = random();
  const threshold = t < 0.55 ? between(random, 1, 6) : t < 0.9 ? between(random, 5, 21) : between(random, 20, 201);
  const r = random();
  const trailing = r < 0.45 ? 0 : r < 0.9 ? between(random, 1, 6) : between(random, 5, 51);
  const chunkBytes = pick(random, [8, 16, 64, 256, 4096]);
  return { on, settings: { threshold, trailing, chunkBytes } };
}

function drawProfile(random: Random): FaultProfile {
  return {
    crashBeforeSyncRate: pick(random, [0.002, 0.01, 0.05]),
    maxSyncMs: pick(random, [1, 5, 20]),
    newLeaderCrashRate: pick(random, [0, 0.2, 0.5]),
    faultIntervalMs: pick(random, [50, 150, 400]),
    maxEntriesPerAppend: pick(random, [1, 3, 4096]),
    maxInflightMessages: pick(random, [1, 4, 64]),
  };
}

/**
 * Mixed timeouts put very short and very long election timeouts in one
 * cluster: a node that times out within a few network delays campaigns
 * against a leader the others still follow, while one with a long timeout
 * almost never campaigns. Seven draws are made whatever the size.
 */
function drawTimeouts(random: Random, nodes: number, mixed: boolean): { min: number; max: number }[] {
  const drawn = Array.from({ length: 7 }, () => {
    const r = random();
    const min = r < 0.35 ? between(random, 40, 80) : r < 0.7 ? DEFAULT_TIMEOUT.min : between(random, 600, 1500);
    return { min, max: 2 * min };
  });
  return Array.from({ length: nodes }, (_, i) => (mixed ? drawn[i % drawn.length] : { ...DEFAULT_TIMEOUT }));
}
