import { describe } from 'vitest';
import type { RaftMessage } from '../../src/messages.js';
import { TcpTransport } from '../../src/tcp.js';
import type { MessageHandler, Transport } from '../../src/transport/transport.js';
import type { TransportFactory } from '../helpers/cluster.js';
import { realTime } from '../helpers/test-time.js';
import { loopbackAddresses, tcpOptions } from '../transport/tcp-network.js';
import { defineClusterSuite } from './cluster-suite.js';

/**
 * Cuts an isolated node off without touching the sockets: its sends are
 * dropped, and so is whatever reaches it or comes from it. Checked at send
 * and at delivery, like MemoryNetwork, so isolating a node also loses the
 * messages already on the wire.
 */
class IsolatingTransport implements Transport {
  constructor(
    private readonly inner: Transport,
    private readonly isolated: ReadonlySet<string>,
  ) {}

  private linkDown(message: RaftMessage): boolean {
    return this.isolated.has(message.from) || this.isolated.has(message.to);
  }

  start(onMessage: MessageHandler): void | Promise<void> {
    return this.inner.start((message) => {
      if (!this.linkDown(message)) onMessage(message);
    });
  }

  send(message: RaftMessage): void {
    if (!this.linkDown(message)) this.inner.send(message);
  }

  stop(): void | Promise<void> {
    return this.inner.stop();
  }
}

function tcpTransports(): TransportFactory {
  const isolated = new Set<string>();
  // Each node keeps its port across restarts, as a real process would.
  let addresses: Promise<Record<string, string>> | null = null;
  return {
    name: 'TcpTransport',
    async create(id, ids) {
      addresses ??= loopbackAddresses(ids);
      return new IsolatingTransport(new TcpTransport(tcpOptions(id, await addresses)), isolated);
    },
    isolate: (id) => isolated.add(id),
    rejoin: (id) => isolated.delete(id),
  };
}

/**
 * Sockets need real timers. Election timeouts of 10 to 20 heartbeats leave a
 * wide margin before a follower of a live leader campaigns, even while the
 * machine is busy; the suite's assertions hold if one does anyway.
 */
const TCP_TIMING = { electionTimeoutMs: { min: 500, max: 1000 }, heartbeatIntervalMs: 50 };

describe('a cluster over TcpTransport (loopback), on real timers', { timeout: 60_000 }, () => {
  defineClusterSuite(() => ({ transports: tcpTransports(), time: realTime, nodeOptions: TCP_TIMING, steady: false }));
});
