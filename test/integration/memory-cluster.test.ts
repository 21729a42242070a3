import { describe } from 'vitest';
import { MemoryNetwork } from '../../src/testing/memory-network.js';
import type { TransportFactory } from '../helpers/cluster.js';
import { defineClusterSuite } from './cluster-suite.js';

function memoryTransports(): TransportFactory {
  const net = new MemoryNetwork({ seed: 7 });
  return {
    name: 'MemoryNetwork',
    create: (id) => net.transport(id),
    isolate: (id) => net.isolate(id),
    rejoin: (id) => net.rejoin(id),
  };
}

describe('a cluster over MemoryNetwork', () => {
  defineClusterSuite(memoryTransports);
});
