/**
 * Helpers for tests that run TcpTransports on loopback: free ports, and
 * networks whose peers know one another's addresses up front.
 */
import { freePorts } from '../../examples/process-cluster.js';
import { TcpTransport, type TcpTransportOptions } from '../../src/tcp.js';
import type { ConformanceNetwork } from '../../src/testing/transport-conformance.js';

export const HOST = '127.0.0.1';

// `count` ports that were free a moment ago; shared with the demo's process cluster.
export { freePorts };

/** Node id → "127.0.0.1:port", for every id. */
export async function loopbackAddresses(ids: readonly string[]): Promise<Record<string, string>> {
  const ports = await freePorts(ids.length);
  return Object.fromEntries(ids.map((id, i) => [id, `${HOST}:${ports[i]}`]));
}

export type TcpOverrides = Partial<Omit<TcpTransportOptions, 'id' | 'listen' | 'peers'>>;

/** Options for node `id` of a loopback cluster whose addresses are `addresses`. */
export function tcpOptions(
  id: string,
  addresses: Record<string, string>,
  overrides: TcpOverrides = {},
): TcpTransportOptions {
  const port = Number(addresses[id]!.split(':')[1]);
  return { id, listen: { host: HOST, port }, peers: addresses, clusterId: 'test-cluster', ...overrides };
}

/** A conformance network of TcpTransports on loopback (a new transport per call; same port for a replacement). */
export function tcpConformanceNetwork(
  overrides: TcpOverrides = {},
): (ids: readonly string[]) => Promise<ConformanceNetwork> {
  return async (ids) => {
    const addresses = await loopbackAddresses(ids);
    return { transport: (id) => new TcpTransport(tcpOptions(id, addresses, overrides)) };
  };
}
