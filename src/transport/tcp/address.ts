/**
 * Peer addresses as users write them: `host:port`, with an IPv6 host in
 * brackets (`[::1]:7001`), as in URLs.
 */

export interface SocketAddress {
  readonly host: string;
  readonly port: number;
}

const PORT = /^[0-9]{1,5}$/;

/**
 * Parses `host:port`. Returns the address, or a sentence saying what is
 * wrong with `text` (for a ConfigError), never throws.
 */
export function parseAddress(text: string): SocketAddress | string {
  let host: string;
  let portText: string;
  if (text.startsWith('[')) {
    const close = text.indexOf(']');
    if (close < 0 || text[close + 1] !== ':')
      return `must be "host:port" or "[ipv6]:port", got ${JSON.stringify(text)}`;
    host = text.slice(1, close);
    portText = text.slice(close + 2);
  } else {
    const colon = text.lastIndexOf(':');
    if (colon < 0) return `must be "host:port", got ${JSON.stringify(text)}`;
    host = text.slice(0, colon);
    portText = text.slice(colon + 1);
    // An unbracketed IPv6 address is ambiguous: which colon starts the port?
    if (host.includes(':')) return `an IPv6 host must be in brackets ("[::1]:7001"), got ${JSON.stringify(text)}`;
  }
  if (host === '') return `has no host, got ${JSON.stringify(text)}`;
  if (!PORT.test(portText)) return `has no valid port, got ${JSON.stringify(text)}`;
  const port = Number(portText);
  if (port < 1 || port > 65535) return `port must be between 1 and 65535, got ${port}`;
  return { host, port };
}

/** The inverse of parseAddress. */
export function formatAddress(address: SocketAddress): string {
  return address.host.includes(':') ? `[${address.host}]:${address.port}` : `${address.host}:${address.port}`;
}

/** A connection's other end as `host:port`, for logs; `?` for what is not known (as after a reset). */
export function remoteOf(end: {
  readonly remoteAddress?: string | undefined;
  readonly remotePort?: number | undefined;
}): string {
  const host = end.remoteAddress ?? '?';
  const port = end.remotePort ?? '?';
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}
