import type { RaftMessage } from '../messages.js';

/** Called by a transport with each message that arrives for its node. */
export type MessageHandler = (message: RaftMessage) => void;

/**
 * The one seam for custom networks: carries RaftMessages between nodes.
 *
 * Messages are one-way and best-effort. A transport may drop, duplicate,
 * delay or reorder any message, as a real network does; Raft tolerates all of
 * that (§5.1: "if a server does not receive a response in a timely manner,
 * it reissues the RPC"), so a transport need not retry or acknowledge.
 *
 * What a transport must do:
 * - `send` never throws and never blocks. An unknown or unreachable peer, a
 *   closed connection or a full buffer means the message is dropped. `send`
 *   returns before any I/O completes.
 * - `onMessage` is never called synchronously inside `send` (not even for a
 *   message to the sending node itself): the node may be in the middle of
 *   an update when it sends.
 * - Large batches must not delay small messages. A heartbeat or a vote stuck
 *   behind a megabyte of AppendEntries on one connection makes followers
 *   time out and start needless elections; use a separate lane, a bounded
 *   queue that drops bulk data first, or frames small enough to interleave.
 * - Messages are plain immutable objects: a transport may deliver the very
 *   object it was given (in memory) or an equal decoded copy
 *   (`encodeMessage` / `decodeMessage`). It must not modify them.
 * - After `stop()` resolves, `onMessage` is never called again and `send` is
 *   a no-op.
 *
 * A transport need not authenticate `from`; it should only deliver messages
 * addressed to its own node (`to`).
 */
export interface Transport {
  /**
   * Begin receiving: from now on every message that arrives for this node is
   * passed to `onMessage`. Called once per node lifetime, before any `send`.
   * A rejection makes `RaftNode.start()` reject with a `TransportError`
   * whose `cause` is the rejection (a bellwether error as it is); the node
   * closes its storage first.
   */
  start(onMessage: MessageHandler): void | Promise<void>;

  /** Send one message to `message.to`, best-effort. Never throws; drops instead. */
  send(message: RaftMessage): void;

  /**
   * Stop receiving and release resources. Messages still queued may be
   * dropped. Once it resolves, `onMessage` is not called again.
   */
  stop(): void | Promise<void>;
}
