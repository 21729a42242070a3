/**
 * Helpers for tests that run TcpTransports on loopback: free ports, and
 * networks whose peers know one another's addresses up front.
 */
import net from 'node:net';
import { TcpTransport, type TcpTransportOptions } from '../../src/tcp.js';
import type { ConformanceNetwork } from '../../src/testing/transport-conformance.js';

export const HOST = '127.0.0.1';

/**
 * `count` ports that were free a moment ago: bound to port 0 all at once
 * (so they are distinct), then released. Another process could take one in
 * between; on loopback in a test run that is rare enough.
 */
export async function freePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: count },
      () =>
        new Promise<net.Server>((resolve, reject) => {
          const server = net.createServer();
          server.once('error', reject);
          server.listen({ host: HOST, port: 0 }, () => resolve(server));
        }),
    ),
  );
  const ports = servers.map((s) => (s.address() as net.AddressInfo).port);
  await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
  return ports;
}

/** Node id → "127.0.0.1:port", for every id. */
export async function loopbackAddresses(ids: readonly string[]): Promise<Record<string, string>> {
  const ports = await freePorts(ids.length);
  return Object.fromEntries(ids.map((id, i) => [id, `${HOST}:${ports[i]}`]));
}

export type TcpOverrides = Partial<Omit<TcpTransportOptions, 'id' | 'listen' | 'peers'>>;

/** Options for node `id` of a loopback cluster whose addresses are `addresses`. */
export function tcpOptions(id: string, addresses: Record<string, string>, overrides: TcpOverrides = {}): TcpTransportOptions {
  const port = Number(addresses[id]!.split(':')[1]);
  return { id, listen: { host: HOST, port }, peers: addresses, clusterId: 'test-cluster', ...overrides };
}

/** A conformance network of TcpTransports on loopback (a new transport per call; same port for a replacement). */
export function tcpConformanceNetwork(overrides: TcpOverrides = {}): (ids: readonly string[]) => Promise<ConformanceNetwork> {
  return async (ids) => {
    const addresses = await loopbackAddresses(ids);
    return { transport: (id) => new TcpTransport(tcpOptions(id, addresses, overrides)) };
  };
}
