import type { Raft } from '../core/raft.js';
import type { PlantedBugs } from '../core/types.js';

/**
 * Package-internal hooks for the deterministic simulator: never exported
 * from an entry point.
 *
 * - `plantedBugsFor`: keyed by the options object given to `new RaftNode`;
 *   test-only switches that break safety on purpose (see PlantedBugs).
 * - `coreOf`: the core behind a started RaftNode, so the simulator can
 *   check invariants against the real state after every step.
 */
export const plantedBugsFor = new WeakMap<object, PlantedBugs>();
export const coreOf = new WeakMap<object, Raft>();
