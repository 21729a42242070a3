import { RaftNode } from '../../src/node.js';
import type { RaftNodeOptions } from '../../src/options.js';
import { MemoryNetwork } from '../../src/testing/memory-network.js';
import { VirtualTime } from '../helpers/virtual-time.js';

export const enc = (s: string): Uint8Array => new TextEncoder().encode(s);

/** A one-node cluster on `time`: it elects itself within 400 ms and then applies each proposal at once. */
export function singleNode(time: VirtualTime, extra: Partial<RaftNodeOptions> = {}): RaftNode {
  const net = new MemoryNetwork();
  return new RaftNode({
    id: 'solo',
    peers: ['solo'],
    transport: net.transport('solo'),
    clock: time.clock(),
    seed: 1,
    ...extra,
  });
}

/** A one-node cluster in its own virtual time. */
export function soloNode(extra: Partial<RaftNodeOptions> = {}): { node: RaftNode; time: VirtualTime } {
  const time = new VirtualTime();
  return { node: singleNode(time, extra), time };
}
