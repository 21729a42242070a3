import { describe, expect, it } from 'vitest';
import { createRandom } from '../../src/core/random.js';
import {
  acceptMismatch,
  BULK_LANE,
  decodeHello,
  decodeReply,
  encodeAccept,
  encodeHello,
  encodeRefuse,
  type Hello,
  MAX_HANDSHAKE_FRAME_BYTES,
  refusalReason,
} from '../../src/transport/tcp/handshake.js';

const hello: Hello = { handshakeVersion: 1, codecVersion: 1, lane: BULK_LANE, clusterId: 'orders', from: 'b', to: 'a' };
const self = { clusterId: 'orders', id: 'a', codecVersion: 1, isKnownPeer: (id: string) => id === 'b' || id === 'c' };

describe('handshake frames', () => {
  it('a Hello decodes to what was encoded, unicode names included', () => {
    const h = { ...hello, clusterId: 'commandes-été', from: '节点-二' };
    expect(decodeHello(encodeHello(h))).toEqual({ kind: 'hello', ...h });
  });

  it('Accept and Refuse decode to what was encoded', () => {
    expect(decodeReply(encodeAccept({ codecVersion: 1, clusterId: 'orders', id: 'a' }))).toEqual({
      kind: 'accept',
      codecVersion: 1,
      clusterId: 'orders',
      id: 'a',
    });
    expect(decodeReply(encodeRefuse('wrong cluster'))).toEqual({ kind: 'refuse', reason: 'wrong cluster' });
  });

  it('a Hello with three maximal names fits in the pre-handshake frame cap', () => {
    const long = 'é'.repeat(127); // 254 bytes
    expect(encodeHello({ ...hello, clusterId: long, from: long, to: long }).length).toBeLessThanOrEqual(
      MAX_HANDSHAKE_FRAME_BYTES,
    );
  });

  it('a long refusal reason is cut to 512 bytes without splitting a character', () => {
    const reply = decodeReply(encodeRefuse('€'.repeat(400)));
    expect(reply.kind).toBe('refuse');
    if (reply.kind === 'refuse') expect(reply.reason).toBe('€'.repeat(170));
  });

  it('says why bytes are not a Hello, and never throws, for 20,000 random and mutated inputs', () => {
    const random = createRandom(5);
    const valid = encodeHello(hello);
    let malformed = 0;
    for (let i = 0; i < 20_000; i++) {
      let bytes: Uint8Array;
      if (i % 2 === 0) {
        bytes = Uint8Array.from({ length: Math.floor(random() * 40) }, () => Math.floor(random() * 256));
      } else {
        bytes = valid.slice(0, Math.floor(random() * (valid.length + 1)));
        if (bytes.length > 0) bytes[Math.floor(random() * bytes.length)] ^= 1 << Math.floor(random() * 8);
      }
      const result = decodeHello(bytes);
      if (result.kind === 'malformed') {
        malformed++;
        expect(result.reason.length).toBeGreaterThan(0);
      } else {
        expect(result.kind).toBe('hello');
      }
      const reply = decodeReply(bytes);
      expect(['accept', 'refuse', 'malformed']).toContain(reply.kind);
    }
    expect(malformed).toBeGreaterThan(15_000);
  });

  it('names the reason for bad magic, an unknown handshake version, an unknown lane and trailing bytes', () => {
    expect(decodeHello(new TextEncoder().encode('GET / HTTP/1.1\r\n'))).toEqual({
      kind: 'malformed',
      reason: 'not a bellwether handshake (bad magic bytes)',
    });
    expect(decodeHello(encodeHello({ ...hello, handshakeVersion: 9 }))).toEqual({
      kind: 'malformed',
      reason: 'unsupported handshake version 9 (this node speaks 1)',
    });
    const badLane = encodeHello(hello);
    badLane[6] = 7;
    expect(decodeHello(badLane)).toEqual({ kind: 'malformed', reason: 'unknown lane 7' });
    expect(decodeHello(Uint8Array.from([...encodeHello(hello), 0]))).toEqual({
      kind: 'malformed',
      reason: '1 unexpected trailing bytes',
    });
  });
});

describe('refusalReason (what a listening node accepts)', () => {
  it('accepts a known peer of the same cluster and codec addressed to this node', () => {
    expect(refusalReason(hello, self)).toBeNull();
  });

  it('refuses another cluster, naming both cluster ids', () => {
    expect(refusalReason({ ...hello, clusterId: 'payments' }, self)).toBe(
      'wrong cluster: "b" belongs to cluster "payments", this node "a" to "orders"',
    );
  });

  it('refuses an incompatible codec version', () => {
    expect(refusalReason({ ...hello, codecVersion: 2 }, self)).toBe(
      'incompatible codec version 2 from "b" (this node "a" speaks 1)',
    );
  });

  it('refuses an id that is not among the peers, and its own id', () => {
    expect(refusalReason({ ...hello, from: 'mallory' }, self)).toBe(
      'unknown node id "mallory": it is not among this node\'s peers',
    );
    expect(refusalReason({ ...hello, from: 'a' }, self)).toBe('"a" is this node\'s own id');
  });

  it('refuses a Hello meant for another node (a peer with a wrong address map)', () => {
    expect(refusalReason({ ...hello, to: 'c' }, self)).toBe(
      '"b" meant to reach node "c", but this is node "a" (check the peers\' addresses)',
    );
  });
});

describe('acceptMismatch (what a dialing node accepts)', () => {
  const me = { clusterId: 'orders', codecVersion: 1 };
  it('accepts the expected node of the same cluster', () => {
    expect(acceptMismatch({ codecVersion: 1, clusterId: 'orders', id: 'b' }, 'b', me)).toBeNull();
  });
  it('refuses a node of another cluster, another node, or another codec version', () => {
    expect(acceptMismatch({ codecVersion: 1, clusterId: 'x', id: 'b' }, 'b', me)).toMatch(/cluster "x"/);
    expect(acceptMismatch({ codecVersion: 1, clusterId: 'orders', id: 'c' }, 'b', me)).toMatch(/is "c", not "b"/);
    expect(acceptMismatch({ codecVersion: 3, clusterId: 'orders', id: 'b' }, 'b', me)).toMatch(/codec version 3/);
  });
});
