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
