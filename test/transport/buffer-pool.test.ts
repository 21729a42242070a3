import { describe, expect, it } from 'vitest';
import { BufferPool } from '../../src/transport/tcp/buffer-pool.js';

describe('BufferPool', () => {
  it('hands the same slab out again once it is sealed and every write that reads it has completed', () => {
    const pool = new BufferPool(1024, 4);
    const slab = pool.acquire();
    slab.retain();
    slab.retain();
    slab.seal();
    expect(pool.freeCount).toBe(0); // two writes still read it
    slab.onWritten();
    expect(pool.freeCount).toBe(0);
    slab.onWritten(null);
    expect(pool.freeCount).toBe(1);
    expect(pool.acquire()).toBe(slab);
  });

  it('does not reuse a slab while the flush is still filling it, even with no write pending', () => {
    const pool = new BufferPool(1024, 4);
    const slab = pool.acquire();
    slab.retain();
    slab.onWritten();
    expect(pool.freeCount).toBe(0);
    slab.seal();
    expect(pool.freeCount).toBe(1);
  });

  it('never reuses a slab one of whose writes failed (the socket may still hold it)', () => {
    const pool = new BufferPool(1024, 4);
    const slab = pool.acquire();
    slab.retain();
    slab.seal();
    slab.onWritten(new Error('EPIPE'));
    expect(pool.freeCount).toBe(0);
    expect(pool.acquire()).not.toBe(slab);
  });

  it('keeps at most maxFree slabs, so an idle pool holds bounded memory', () => {
    const pool = new BufferPool(1024, 2);
    const slabs = [pool.acquire(), pool.acquire(), pool.acquire()];
    for (const slab of slabs) slab.seal();
    expect(pool.freeCount).toBe(2);
  });
});
