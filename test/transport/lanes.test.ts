/**
 * Which lane each message takes (src/transport/tcp/lanes.ts): what can be
 * large on the bulk lane, everything small on the control lane. The
 * timing-free half of the claim that snapshot chunks never delay
 * heartbeats; tcp-transport.test.ts shows the order they arrive in.
 */
import { describe, expect, it } from 'vitest';
import { MESSAGE_TYPES, type MessageType, type RaftMessage } from '../../src/messages.js';
import { BULK_LANE, CONTROL_LANE, type Lane } from '../../src/transport/tcp/handshake.js';
import { laneOf } from '../../src/transport/tcp/lanes.js';
import { installSnapshot } from '../codec/examples.js';

const envelope = { from: 'a', to: 'b', term: 3 };
const entry = { index: 11, term: 3, type: 'normal' as const, data: new Uint8Array(16) };

const LANES: Record<'bulk' | 'control', Lane> = { bulk: BULK_LANE, control: CONTROL_LANE };

/** One message of each type, with its lane; a type missing here fails the first test. */
const PLACED: readonly [MessageType, RaftMessage, keyof typeof LANES][] = [
  [
    'RequestVote',
    { ...envelope, type: 'RequestVote', lastLogIndex: 1, lastLogTerm: 1, preVote: false, transfer: false },
    'control',
  ],
  ['RequestVoteResponse', { ...envelope, type: 'RequestVoteResponse', granted: true, preVote: false }, 'control'],
  [
    'AppendEntries',
    { ...envelope, type: 'AppendEntries', prevLogIndex: 10, prevLogTerm: 3, entries: [entry], leaderCommit: 9 },
    'bulk',
  ],
  [
    'AppendEntriesResponse',
    {
      ...envelope,
      type: 'AppendEntriesResponse',
      success: true,
      matchIndex: 11,
      rejectedIndex: 0,
      hintIndex: 0,
      hintTerm: 0,
    },
    'control',
  ],
  ['Heartbeat', { ...envelope, type: 'Heartbeat', commit: 9, readSeq: 1 }, 'control'],
  ['HeartbeatResponse', { ...envelope, type: 'HeartbeatResponse', readSeq: 1 }, 'control'],
  ['ReadIndex', { ...envelope, type: 'ReadIndex', ctx: 'r1' }, 'control'],
  ['ReadIndexResponse', { ...envelope, type: 'ReadIndexResponse', ctx: 'r1', index: 9, ok: true }, 'control'],
  ['InstallSnapshot', installSnapshot(), 'bulk'],
  [
    'InstallSnapshotResponse',
    { ...envelope, type: 'InstallSnapshotResponse', snapshotIndex: 1000, received: 4, done: false },
    'control',
  ],
  ['TimeoutNow', { ...envelope, type: 'TimeoutNow' }, 'control'],
];

describe('laneOf', () => {
  it('places every message type', () => {
    expect(PLACED.map(([type]) => type).sort()).toEqual([...MESSAGE_TYPES].sort());
  });

  it.each(PLACED.map(([type, message, lane]) => [type, lane, message] as const))(
    'sends %s on the %s lane',
    (type, lane, message) => {
      expect(message.type).toBe(type);
      expect(laneOf(message)).toBe(LANES[lane]);
    },
  );

  it('sends every snapshot chunk on the bulk lane, the empty chunk of an empty snapshot included', () => {
    const empty = installSnapshot({ offset: 0, totalBytes: 0, data: new Uint8Array(0) });
    expect(laneOf(empty)).toBe(BULK_LANE);
    expect(laneOf(installSnapshot({ offset: 0, totalBytes: 64 << 20, data: new Uint8Array(1 << 20) }))).toBe(BULK_LANE);
  });

  it('sends an AppendEntries without entries (a probe or a commit notice) on the control lane', () => {
    const probe: RaftMessage = {
      ...envelope,
      type: 'AppendEntries',
      prevLogIndex: 10,
      prevLogTerm: 3,
      entries: [],
      leaderCommit: 9,
    };
    expect(laneOf(probe)).toBe(CONTROL_LANE);
  });
});
