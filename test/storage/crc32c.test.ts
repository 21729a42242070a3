import { describe, expect, it } from 'vitest';
import { createRandom } from '../../src/core/random.js';
import { crc32c } from '../../src/storage/crc32c.js';

const ascii = (text: string) => new TextEncoder().encode(text);

describe('crc32c', () => {
  // Check values from RFC 3720 (iSCSI), appendix B.4, and the common "123456789" check value.
  it.each([
    ['"123456789"', ascii('123456789'), 0xe3069283],
    ['32 bytes of zeros', new Uint8Array(32), 0x8a9136aa],
    ['32 bytes of 0xFF', new Uint8Array(32).fill(0xff), 0x62a8ab43],
    ['32 incrementing bytes', Uint8Array.from({ length: 32 }, (_, i) => i), 0x46dd794e],
    ['32 decrementing bytes', Uint8Array.from({ length: 32 }, (_, i) => 31 - i), 0x113fdb5c],
    ['nothing', new Uint8Array(0), 0],
  ])('matches the published check value for %s', (_name, bytes, expected) => {
    expect(crc32c(bytes)).toBe(expected);
  });

  it('computes a range, and continues a checksum across pieces', () => {
    const random = createRandom(7);
    const bytes = Uint8Array.from({ length: 1000 }, () => Math.floor(random() * 256));
    const whole = crc32c(bytes);
    for (const cut of [0, 1, 7, 8, 9, 500, 999, 1000]) {
      expect(crc32c(bytes, cut, bytes.length, crc32c(bytes, 0, cut))).toBe(whole);
    }
    expect(crc32c(bytes, 10, 20)).toBe(crc32c(bytes.slice(10, 20)));
  });

  it('changes when any single byte changes', () => {
    const random = createRandom(11);
    const bytes = Uint8Array.from({ length: 257 }, () => Math.floor(random() * 256));
    const original = crc32c(bytes);
    for (let i = 0; i < bytes.length; i++) {
      const copy = bytes.slice();
      copy[i] ^= 1 + Math.floor(random() * 255);
      expect(crc32c(copy)).not.toBe(original);
    }
  });
});
