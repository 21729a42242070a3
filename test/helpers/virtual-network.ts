import { createRandom } from '../../src/core/random.js';
import { SimNetwork } from '../../src/testing/sim/sim-network.js';
import type { TransportFactory } from './cluster.js';
import type { VirtualTime } from './virtual-time.js';

/**
 * Transports whose every message is an event on `time`'s queue, delivered
 * `latencyMs` of virtual time after it is sent (the simulator's network,
 * without its faults). MemoryNetwork delivers on the real event loop, so a
 * cluster on it is not in virtual time even with virtual clocks; on this
 * network, timers and messages share one timeline and the run is the same
 * on any machine.
 */
export function virtualTransports(time: VirtualTime, latencyMs = 1): TransportFactory {
  const net = new SimNetwork(time.queue, createRandom(1), () => undefined);
  net.faults = { dropRate: 0, duplicateRate: 0, minDelayMs: latencyMs, maxDelayMs: latencyMs };
  const isolated = new Set<string>();
  let members: readonly string[] = [];
  /** Blocks every link that touches an isolated node, both ways; nothing else. */
  const relink = (): void => {
    net.heal();
    for (const id of isolated) {
      for (const other of members) {
        if (other === id) continue;
        net.block(id, other);
        net.block(other, id);
      }
    }
  };
  return {
    name: 'virtual network',
    create(id, ids) {
      members = ids;
      return net.transport(id);
    },
    isolate(id) {
      isolated.add(id);
      relink();
    },
    rejoin(id) {
      isolated.delete(id);
      relink();
    },
  };
}
