import { describe, expectTypeOf, it } from 'vitest';
import { RaftNode } from '../src/node.js';
import type { LeaderChange, RoleChange, SnapshotEvent, SnapshotInfo } from '../src/shell/events.js';

declare const node: RaftNode;

describe('RaftNode event types', () => {
  it('gives each listener its typed payload', () => {
    node.on('leaderChanged', (change) => {
      expectTypeOf(change).toEqualTypeOf<LeaderChange>();
      expectTypeOf(change.leaderId).toEqualTypeOf<string | null>();
      expectTypeOf(change.term).toEqualTypeOf<number>();
    });
    node.on('roleChanged', (change) => {
      expectTypeOf(change).toEqualTypeOf<RoleChange>();
      expectTypeOf(change.role).toEqualTypeOf<'follower' | 'precandidate' | 'candidate' | 'leader'>();
    });
    node.on('snapshot', (snapshot) => {
      expectTypeOf(snapshot).toEqualTypeOf<SnapshotEvent>();
      expectTypeOf(snapshot.source).toEqualTypeOf<'local' | 'leader'>();
      expectTypeOf(snapshot.bytes).toEqualTypeOf<number>();
    });
    node.on('error', (error) => expectTypeOf(error).toEqualTypeOf<Error>());
  });

  it('types what node.snapshot() resolves with', () => {
    expectTypeOf(node.snapshot()).resolves.toEqualTypeOf<SnapshotInfo>();
    expectTypeOf<SnapshotInfo>().toEqualTypeOf<{
      readonly index: number;
      readonly term: number;
      readonly bytes: number;
    }>();
  });

  it('rejects a listener that expects the wrong payload', () => {
    // @ts-expect-error leaderChanged carries an object, not a string
    node.on('leaderChanged', (leaderId: string) => leaderId);
    // @ts-expect-error applied has no `data` field
    node.on('applied', ({ data }: { data: Uint8Array }) => data);
    // @ts-expect-error the snapshot event carries no data
    node.on('snapshot', ({ data }: { data: Uint8Array }) => data);
    // @ts-expect-error there is no such event
    node.on('leader-changed', () => undefined);
  });

  it('rejects emitting a wrong payload', () => {
    // @ts-expect-error term must be a number
    node.emit('leaderChanged', { leaderId: 'a', previousLeaderId: null, term: 'one' });
    // @ts-expect-error source is 'local' or 'leader'
    node.emit('snapshot', { index: 1, term: 1, bytes: 0, source: 'follower' });
  });
});
