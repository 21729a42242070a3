/**
 * The handshake that opens every TCP connection, before any Raft message.
 *
 * The dialing node sends one Hello frame; the listening node answers with
 * one Reply frame, Accept or Refuse, and after an Accept only the dialer
 * sends (each connection carries messages one way). Both frames go through
 * the ordinary length-prefixed framing, with a small size cap until the
 * handshake is done, so a stranger cannot make a node allocate much.
 *
 *   Hello:  "BWHI" · u8 handshake version · u8 codec version · u8 lane ·
 *           name clusterId · name from · name to
 *   Accept: "BWHR" · u8 handshake version · u8 0 · u8 codec version ·
 *           name clusterId · name id
 *   Refuse: "BWHR" · u8 handshake version · u8 1 · u16 length · UTF-8 reason
 *
 * where a name is a u8 byte length (1..255) followed by UTF-8. The decoders
 * never throw: whatever the bytes, they return a message or a reason.
 */

/** Longest cluster id or node id, in UTF-8 bytes (the codec's id limit too). */
export const MAX_NAME_BYTES = 255;
/** Largest handshake frame either side accepts: a Hello with three maximal names fits. */
export const MAX_HANDSHAKE_FRAME_BYTES = 1024;
/** Bumped on any incompatible change to the handshake itself. */
export const HANDSHAKE_VERSION = 1;
const MAX_REASON_BYTES = 512;

const HELLO_MAGIC = [0x42, 0x57, 0x48, 0x49]; // "BWHI"
const REPLY_MAGIC = [0x42, 0x57, 0x48, 0x52]; // "BWHR"

/**
 * Which connection a message travels on. Small messages (heartbeats, votes,
 * responses) have a lane of their own so they never queue behind a large
 * AppendEntries (see Transport: "Large batches must not delay small messages").
 */
export type Lane = 0 | 1;
export const CONTROL_LANE: Lane = 0;
export const BULK_LANE: Lane = 1;

export interface Hello {
  readonly handshakeVersion: number;
  readonly codecVersion: number;
  readonly lane: Lane;
  readonly clusterId: string;
  readonly from: string;
  readonly to: string;
}

export type Reply =
  | { readonly kind: 'accept'; readonly codecVersion: number; readonly clusterId: string; readonly id: string }
  | { readonly kind: 'refuse'; readonly reason: string };

/** A decoder's verdict on bytes that are not a well-formed handshake frame. */
export interface Malformed {
  readonly kind: 'malformed';
  readonly reason: string;
}

const encoder = new TextEncoder();
const strictDecoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

class Writer {
  private readonly parts: number[] = [];
  bytes(values: readonly number[]): this {
    this.parts.push(...values);
    return this;
  }
  u8(value: number): this {
    this.parts.push(value & 0xff);
    return this;
  }
  name(value: string): this {
    const utf8 = encoder.encode(value);
    if (utf8.length === 0 || utf8.length > MAX_NAME_BYTES) {
      throw new RangeError(`handshake names must be 1 to ${MAX_NAME_BYTES} bytes, got ${utf8.length}`);
    }
    this.parts.push(utf8.length, ...utf8);
    return this;
  }
  text(value: string): this {
    const utf8 = encoder.encode(value).subarray(0, MAX_REASON_BYTES);
    // Cutting may split a character; keep the valid prefix only.
    let end = utf8.length;
    while (end > 0 && !isUtf8(utf8.subarray(0, end))) end--;
    this.parts.push(end >> 8, end & 0xff, ...utf8.subarray(0, end));
    return this;
  }
  done(): Uint8Array {
    return Uint8Array.from(this.parts);
  }
}

function isUtf8(bytes: Uint8Array): boolean {
  try {
    strictDecoder.decode(bytes);
    return true;
  } catch {
    return false;
  }
}

/** Thrown inside the readers only; the exported decoders turn it into a Malformed result. */
class Bad extends Error {}

class Reader {
  private offset = 0;
  constructor(private readonly bytes: Uint8Array) {}
  /**
   * The magic bytes, then the handshake version. A frame whose magic is right
   * but whose version is not ours is refused without reading further, so
   * that the refusal can say "upgrade" rather than "garbage".
   */
  header(magic: readonly number[], what: string): number {
    for (let i = 0; i < magic.length; i++) {
      if (this.bytes[this.offset + i] !== magic[i]) throw new Bad(`not a bellwether ${what} (bad magic bytes)`);
    }
    this.offset += magic.length;
    const version = this.u8('handshake version');
    if (version !== HANDSHAKE_VERSION) {
      throw new Bad(`unsupported handshake version ${version} (this node speaks ${HANDSHAKE_VERSION})`);
    }
    return version;
  }
  u8(field: string): number {
    if (this.offset >= this.bytes.length) throw new Bad(`truncated ${field}`);
    return this.bytes[this.offset++]!;
  }
  name(field: string): string {
    const length = this.u8(`${field} length`);
    if (length === 0) throw new Bad(`empty ${field}`);
    return this.utf8(length, field);
  }
  text(field: string): string {
    const length = (this.u8(`${field} length`) << 8) | this.u8(`${field} length`);
    return this.utf8(length, field);
  }
  end(): void {
    if (this.offset !== this.bytes.length)
      throw new Bad(`${this.bytes.length - this.offset} unexpected trailing bytes`);
  }
  private utf8(length: number, field: string): string {
    if (length > this.bytes.length - this.offset) throw new Bad(`truncated ${field}`);
    const slice = this.bytes.subarray(this.offset, this.offset + length);
    this.offset += length;
    try {
      return strictDecoder.decode(slice);
    } catch {
      throw new Bad(`${field} is not valid UTF-8`);
    }
  }
}

function guard<T>(decode: () => T): T | Malformed {
  try {
    return decode();
  } catch (error) {
    if (error instanceof Bad) return { kind: 'malformed', reason: error.message };
    // Nothing above throws anything else; if it ever did, the peer still
    // only gets refused.
    return { kind: 'malformed', reason: `internal error: ${String(error)}` };
  }
}

export function encodeHello(hello: Omit<Hello, 'handshakeVersion'> & { handshakeVersion?: number }): Uint8Array {
  return new Writer()
    .bytes(HELLO_MAGIC)
    .u8(hello.handshakeVersion ?? HANDSHAKE_VERSION)
    .u8(hello.codecVersion)
    .u8(hello.lane)
    .name(hello.clusterId)
    .name(hello.from)
    .name(hello.to)
    .done();
}

/** Reads a Hello. */
export function decodeHello(frame: Uint8Array): (Hello & { readonly kind: 'hello' }) | Malformed {
  return guard(() => {
    const r = new Reader(frame);
    const handshakeVersion = r.header(HELLO_MAGIC, 'handshake');
    const codecVersion = r.u8('codec version');
    const lane = r.u8('lane');
    if (lane !== CONTROL_LANE && lane !== BULK_LANE) throw new Bad(`unknown lane ${lane}`);
    const clusterId = r.name('cluster id');
    const from = r.name('node id');
    const to = r.name('target node id');
    r.end();
    return { kind: 'hello' as const, handshakeVersion, codecVersion, lane, clusterId, from, to };
  });
}

export function encodeAccept(reply: { codecVersion: number; clusterId: string; id: string }): Uint8Array {
  return new Writer()
    .bytes(REPLY_MAGIC)
    .u8(HANDSHAKE_VERSION)
    .u8(0)
    .u8(reply.codecVersion)
    .name(reply.clusterId)
    .name(reply.id)
    .done();
}

export function encodeRefuse(reason: string): Uint8Array {
  return new Writer().bytes(REPLY_MAGIC).u8(HANDSHAKE_VERSION).u8(1).text(reason).done();
}

export function decodeReply(frame: Uint8Array): Reply | Malformed {
  return guard((): Reply => {
    const r = new Reader(frame);
    r.header(REPLY_MAGIC, 'handshake reply');
    const status = r.u8('status');
    if (status === 0) {
      const codecVersion = r.u8('codec version');
      const clusterId = r.name('cluster id');
      const id = r.name('node id');
      r.end();
      return { kind: 'accept', codecVersion, clusterId, id };
    }
    if (status === 1) {
      const reason = r.text('reason');
      r.end();
      return { kind: 'refuse', reason };
    }
    throw new Bad(`unknown reply status ${status}`);
  });
}

/** What a listening node knows about itself, to judge a Hello. */
export interface Identity {
  readonly clusterId: string;
  readonly id: string;
  readonly codecVersion: number;
  isKnownPeer(id: string): boolean;
}

/**
 * Why a listening node refuses `hello`, or null to accept it. The reasons
 * are sent to the peer and logged on both sides, so they say what to fix.
 */
export function refusalReason(hello: Hello, self: Identity): string | null {
  if (hello.clusterId !== self.clusterId) {
    return `wrong cluster: "${hello.from}" belongs to cluster "${hello.clusterId}", this node "${self.id}" to "${self.clusterId}"`;
  }
  if (hello.codecVersion !== self.codecVersion) {
    return `incompatible codec version ${hello.codecVersion} from "${hello.from}" (this node "${self.id}" speaks ${self.codecVersion})`;
  }
  if (hello.to !== self.id) {
    return `"${hello.from}" meant to reach node "${hello.to}", but this is node "${self.id}" (check the peers' addresses)`;
  }
  if (hello.from === self.id) return `"${hello.from}" is this node's own id`;
  if (!self.isKnownPeer(hello.from)) {
    return `unknown node id "${hello.from}": it is not among this node's peers`;
  }
  return null;
}

/** Why a dialing node refuses the Accept it got from `expectedId`'s address, or null when it is right. */
export function acceptMismatch(
  reply: { codecVersion: number; clusterId: string; id: string },
  expectedId: string,
  self: { clusterId: string; codecVersion: number },
): string | null {
  if (reply.clusterId !== self.clusterId) {
    return `the node at this address belongs to cluster "${reply.clusterId}", not "${self.clusterId}"`;
  }
  if (reply.id !== expectedId) return `the node at this address is "${reply.id}", not "${expectedId}"`;
  if (reply.codecVersion !== self.codecVersion) {
    return `incompatible codec version ${reply.codecVersion} (this node speaks ${self.codecVersion})`;
  }
  return null;
}
