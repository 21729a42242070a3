import type { PlantedBugs } from '../../core/types.js';
import type { SnapshotSettings } from '../../options.js';
import type { Violation } from './invariants.js';

/** Which faults the simulator injects; all on by default. */
export interface FaultOptions {
  /** Crash processes (losing unsynced writes) and restart them later. */
  readonly crashes: boolean;
  /** Split the cluster into random groups, both ways. */
  readonly partitions: boolean;
  /** Cut single links in one direction. */
  readonly oneWayLinks: boolean;
  /** Lose messages. */
  readonly drops: boolean;
  /** Deliver messages twice. */
  readonly duplicates: boolean;
  /** Random delays, so messages overtake each other. */
  readonly reorders: boolean;
  /** Nodes' clocks run at different rates. */
  readonly clockDrift: boolean;
}

export const ALL_FAULTS: FaultOptions = Object.freeze({
  crashes: true,
  partitions: true,
  oneWayLinks: true,
  drops: true,
  duplicates: true,
  reorders: true,
  clockDrift: true,
});

export const NO_FAULTS: FaultOptions = Object.freeze({
  crashes: false,
  partitions: false,
  oneWayLinks: false,
  drops: false,
  duplicates: false,
  reorders: false,
  clockDrift: false,
});

/**
 * Fault and workload patterns aimed at rare interleavings. Unless fixed in
 * the options, each seed draws which of them are on (swarm testing), so a
 * bug that needs one pattern, or the absence of another, is not averaged away.
 */
export interface PatternOptions {
  /** Each node draws its own election timeout, from very short to very long, in one cluster. */
  readonly mixedTimeouts: boolean;
  /** Heartbeats and their answers are lost in spells while appends get through. */
  readonly heartbeatLoss: boolean;
  /** Appends and their answers are lost in spells while heartbeats get through. */
  readonly appendLoss: boolean;
  /**
   * A link (mostly leader to follower) is cut one way for about an election
   * timeout, then restored: the follower campaigns and hears its leader again
   * while a pre-candidate or candidate of that term.
   */
  readonly linkFlaps: boolean;
  /** A burst of proposals reaches each new leader right after its election. */
  readonly proposalBursts: boolean;
  /**
   * One more client that only reads, each time through a node picked at
   * random: follower reads, and reads through a deposed leader that does not
   * know it yet (the writers mostly wait out their timeouts on such a leader).
   */
  readonly roamingReader: boolean;
  /**
   * One node is cut off from all the others for a long while (several
   * election timeouts), so the log moves far past it and is compacted: it
   * comes back through a snapshot. A leader cut off this way first takes a
   * burst of writes it can never commit, a conflicting log for the snapshot
   * to replace (Figure 13).
   */
  readonly farBehind: boolean;
}

export const ALL_PATTERNS: PatternOptions = Object.freeze({
  mixedTimeouts: true,
  heartbeatLoss: true,
  appendLoss: true,
  linkFlaps: true,
  proposalBursts: true,
  roamingReader: true,
  farBehind: true,
});

export const NO_PATTERNS: PatternOptions = Object.freeze({
  mixedTimeouts: false,
  heartbeatLoss: false,
  appendLoss: false,
  linkFlaps: false,
  proposalBursts: false,
  roamingReader: false,
  farBehind: false,
});

/**
 * Swarm testing: each seed draws its own fault intensities, so some runs
 * crash constantly on slow disks and others lose messages on fast ones;
 * bugs that need one extreme are not averaged away.
 */
export interface FaultProfile {
  /** Chance that a save is followed by a crash before its fsync completes. */
  readonly crashBeforeSyncRate: number;
  /** An fsync takes up to this long. */
  readonly maxSyncMs: number;
  /** Chance that a newly elected leader crashes within a few milliseconds. */
  readonly newLeaderCrashRate: number;
  /** Mean virtual time between injected faults. */
  readonly faultIntervalMs: number;
  /** Replication flow control: small values split the log into many messages. */
  readonly maxEntriesPerAppend: number;
  readonly maxInflightMessages: number;
}

export interface SimulatorOptions {
  readonly seed: number;
  /** Cluster size; default drawn by the seed from 1 to 7, even sizes included. */
  readonly nodes?: number;
  /** Events to run with faults on, before the liveness phase. Default drawn: 2,000, or 10,000 for one seed in twenty. */
  readonly steps?: number;
  readonly faults?: Partial<FaultOptions>;
  /** Fix some of the patterns that are otherwise drawn per seed. */
  readonly patterns?: Partial<PatternOptions>;
  /** PreVote on every node (thesis §9.6); default drawn per seed. */
  readonly preVote?: boolean;
  /** CheckQuorum on every node (thesis §6.2); default drawn per seed. */
  readonly checkQuorum?: boolean;
  /** Concurrent clients of the key-value workload. Default 3. */
  readonly clients?: number;
  /** Keep the whole trace (for byte-for-byte replay comparison), not only its tail. */
  readonly recordTrace?: boolean;
  /** Virtual milliseconds the liveness phase may take. Default 10,000, more when election timeouts are long. */
  readonly livenessTimeoutMs?: number;
  /** Fix some of the fault intensities that are otherwise drawn per seed (swarm testing). */
  readonly profile?: Partial<FaultProfile>;
  /**
   * Every node's `snapshots` option. Default drawn per seed: small
   * thresholds, trailing counts and chunk sizes, so that snapshots,
   * compaction and multi-chunk installs happen in nearly every run; off in
   * some seeds. Fields given here replace the drawn ones.
   */
  readonly snapshots?: Partial<SnapshotSettings> | false;
  /** Test-only: plant known Raft bugs in every node's core (see PlantedBugs). */
  readonly plantedBugs?: PlantedBugs;
}

/** What a seed drew (or the options fixed): enough to tell what kind of run it was. */
export interface RunConfig {
  readonly nodes: number;
  readonly steps: number;
  readonly preVote: boolean;
  readonly checkQuorum: boolean;
  readonly heartbeatIntervalMs: number;
  /** Per node, in node order. */
  readonly electionTimeoutsMs: readonly { readonly min: number; readonly max: number }[];
  readonly patterns: PatternOptions;
  readonly profile: FaultProfile;
  readonly livenessTimeoutMs: number;
  /** Every node's `snapshots` option: false when automatic snapshots are off. */
  readonly snapshots: SnapshotSettings | false;
}

export interface SimulationResult {
  readonly ok: boolean;
  readonly seed: number;
  readonly violation: (Violation & { readonly step: number; readonly timeMs: number }) | null;
  /** `npm run sim -- --seed N` plus any non-default options: replays this run exactly. */
  readonly replay: string;
  readonly steps: number;
  readonly virtualTimeMs: number;
  readonly config: RunConfig;
  /** The last lines of the trace (all of it with `recordTrace`). */
  readonly trace: string;
  readonly stats: {
    readonly messagesSent: number;
    readonly messagesDelivered: number;
    readonly messagesDropped: number;
    readonly crashes: number;
    readonly tornWrites: number;
    readonly committed: number;
    readonly operations: number;
    readonly leaders: number;
    /** Pre-candidates and candidates that went back to following a leader of their own term. */
    readonly campaignsAbandoned: number;
    /** Proposals sent in bursts to new leaders. */
    readonly burstProposals: number;
    /** Snapshots nodes took (automatically or on demand) and made durable. */
    readonly snapshotsTaken: number;
    /** Snapshots followers received from a leader, stored and restored. */
    readonly snapshotsInstalled: number;
    /** InstallSnapshot chunks leaders sent. */
    readonly chunksSent: number;
    /** Log compactions that became durable. */
    readonly compactions: number;
    /** Crashes while a snapshot a node took, or one it was installing, was being written. */
    readonly crashesSavingSnapshots: number;
    readonly crashesInstallingSnapshots: number;
  };
}

/** The command line that replays a run exactly: the seed and every option the run did not draw itself. */
export function replayCommand(options: SimulatorOptions): string {
  const parts = [`npm run sim -- --seed ${options.seed}`];
  if (options.nodes !== undefined) parts.push(`--nodes ${options.nodes}`);
  if (options.steps !== undefined) parts.push(`--steps ${options.steps}`);
  if (options.clients !== undefined) parts.push(`--clients ${options.clients}`);
  if (options.preVote !== undefined) parts.push(`--pre-vote ${onOff(options.preVote)}`);
  if (options.checkQuorum !== undefined) parts.push(`--check-quorum ${onOff(options.checkQuorum)}`);
  if (options.livenessTimeoutMs !== undefined) parts.push(`--liveness-ms ${options.livenessTimeoutMs}`);
  const off = namesWhere(options.faults, false);
  if (off.length > 0) parts.push(`--no-faults ${off.join(',')}`);
  const patternsOn = namesWhere(options.patterns, true);
  if (patternsOn.length > 0) parts.push(`--patterns ${patternsOn.join(',')}`);
  const patternsOff = namesWhere(options.patterns, false);
  if (patternsOff.length > 0) parts.push(`--no-patterns ${patternsOff.join(',')}`);
  const profile = Object.entries(options.profile ?? {}).filter(([, v]) => v !== undefined);
  if (profile.length > 0) parts.push(`--profile ${profile.map(([k, v]) => `${k}=${v}`).join(',')}`);
  const snapshots = options.snapshots;
  if (snapshots === false) parts.push('--snapshots off');
  else if (snapshots !== undefined) {
    const fields = Object.entries(snapshots).filter(([, v]) => v !== undefined);
    if (fields.length > 0) parts.push(`--snapshots ${fields.map(([k, v]) => `${k}=${v}`).join(',')}`);
  }
  const bugs = namesWhere(options.plantedBugs, true);
  if (bugs.length > 0) parts.push(`--bug ${bugs.join(',')}`);
  return parts.join(' ');
}

function onOff(on: boolean): string {
  return on ? 'on' : 'off';
}

function namesWhere(flags: object | undefined, value: boolean): string[] {
  return Object.entries(flags ?? {})
    .filter(([, on]) => on === value)
    .map(([name]) => name);
}
