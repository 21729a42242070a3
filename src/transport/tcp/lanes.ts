/**
 * Which of a peer's two connections (lanes, see handshake.ts) a message
 * travels on. The bulk lane carries what can be large: AppendEntries with
 * entries, and the chunks of a snapshot. Everything else is small and
 * urgent and takes the control lane, so a heartbeat or a vote never waits
 * behind megabytes of log or snapshot (Transport: "Large batches must not
 * delay small messages"), and followers do not time out and start needless
 * elections while a snapshot is on its way.
 */
import type { RaftMessage } from '../../messages.js';
import { BULK_LANE, CONTROL_LANE, type Lane } from './handshake.js';

export function laneOf(message: RaftMessage): Lane {
  switch (message.type) {
    case 'AppendEntries':
      // An empty append (a probe, or news of the commit index) is as small as a heartbeat.
      return message.entries.length > 0 ? BULK_LANE : CONTROL_LANE;
    case 'InstallSnapshot':
      // Every chunk, even an empty one, on one lane: a connection keeps its
      // order, so the chunks of a transfer arrive in the order they were
      // sent (the follower keeps only the chunk that starts where its bytes
      // end, §7), and the appends that follow the last chunk, on the same
      // lane, cannot overtake it.
      return BULK_LANE;
    default:
      // The responses, InstallSnapshotResponse included, are a few dozen
      // bytes. The leader sends the next chunk only once the response to the
      // last one arrives (one chunk in flight), so a response held behind
      // bulk data would stall the transfer by as long.
      return CONTROL_LANE;
  }
}
