// `bellwether/testing`: tools for testing clusters and custom adapters. Exports only.
export { MemoryNetwork } from './memory-network.js';
export type { MemoryNetworkOptions, NetworkConditions, NetworkStats } from './memory-network.js';
export { checkKvHistory, checkOperations, kvModel } from './linearizability.js';
export type {
  CheckOptions,
  KvInput,
  KvOperation,
  KvOutput,
  LinearizabilityResult,
  Model,
  Operation,
} from './linearizability.js';
export { Simulator } from './sim/simulator.js';
export { ALL_FAULTS, ALL_PATTERNS, NO_FAULTS, NO_PATTERNS, replayCommand } from './sim/sim-options.js';
export type {
  FaultOptions,
  FaultProfile,
  PatternOptions,
  RunConfig,
  SimulationResult,
  SimulatorOptions,
} from './sim/sim-options.js';
export { SafetyChecker } from './sim/invariants.js';
export type { Violation } from './sim/invariants.js';
export type { PlantedBugs } from '../core/types.js';
export { testTransportConformance } from './transport-conformance.js';
export type { ConformanceNetwork, TransportConformanceOptions } from './transport-conformance.js';
export { testStorageConformance } from './storage-conformance.js';
export type { FaultHook, StorageConformanceOptions, StorageUnderTest } from './storage-conformance.js';
