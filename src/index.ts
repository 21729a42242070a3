// The public entry point of `bellwether`. Exports only; nothing runs on import.
export { RaftNode } from './node.js';
export type { NodeStatus, ProposeOutcome } from './node.js';
export type {
  CommittedEntry,
  Logger,
  RaftNodeOptions,
  SnapshotPosition,
  SnapshotSettings,
  StateMachine,
} from './options.js';
export type { CallOptions } from './shell/pending.js';
export type { Clock } from './shell/clock.js';
export type {
  AppliedEntry,
  LeaderChange,
  MembershipChange,
  RaftNodeEvents,
  RoleChange,
  SnapshotEvent,
  SnapshotInfo,
} from './shell/events.js';
export { MemoryStorage } from './storage/memory.js';
export { CODEC_VERSION, decodeMessage, encodeMessage } from './codec/codec.js';
export { FileStorage } from './storage/file.js';
export type { FileStorageOptions, OpenReport } from './storage/file.js';
export type { PersistedState, Snapshot, Storage } from './storage/storage.js';
export type { StorageFileHandle, StorageFileSystem } from './storage/fs.js';
export type { MessageHandler, Transport } from './transport/transport.js';
export {
  ConfigError,
  CorruptionError,
  DecodeError,
  LeadershipLostError,
  NotLeaderError,
  RaftError,
  StoppedError,
  StorageError,
  TimeoutError,
  TransportError,
} from './errors.js';
export type { ConfigIssue, RaftErrorCode } from './errors.js';
export type {
  AppendEntries,
  AppendEntriesResponse,
  Entry,
  EntryType,
  HardState,
  Heartbeat,
  HeartbeatResponse,
  InstallSnapshot,
  InstallSnapshotResponse,
  MessageType,
  NodeId,
  RaftMessage,
  ReadIndexRequest,
  ReadIndexResponse,
  RequestVote,
  RequestVoteResponse,
  Role,
  SnapshotMetadata,
  TimeoutNow,
} from './messages.js';
