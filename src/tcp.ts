// `bellwether/tcp`: the TCP (and mutual TLS) transport. Exports only.
export { TcpTransport } from './transport/tcp.js';
export type { TcpTlsOptions, TcpTransportOptions, TcpTransportStats } from './transport/tcp.js';
export type { SocketAddress } from './transport/tcp/address.js';
