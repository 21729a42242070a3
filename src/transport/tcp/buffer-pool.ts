/**
 * Reusable write buffers. A flush copies many small frames into one slab and
 * writes it with one call, so the hot path makes one write per flush instead
 * of one per message, and the slabs are recycled rather than allocated and
 * collected over and over.
 *
 * A slab may be handed to several socket writes (small frames copied in,
 * a large frame's header); it returns to the pool only once it is sealed (the
 * flush is done with it) and every write that references it has completed,
 * because the socket reads the memory until then.
 */
export class Slab {
  readonly buffer: Buffer;
  private refs = 0;
  private sealed = false;
  private discarded = false;
  /** One callback per slab for all its writes, made once: no closure per write. */
  readonly onWritten: (error?: Error | null) => void;

  constructor(
    size: number,
    private readonly pool: BufferPool,
  ) {
    this.buffer = Buffer.allocUnsafe(size);
    this.onWritten = (error) => {
      // After a failed write the socket may be torn down with the memory
      // still referenced somewhere; never reuse such a slab.
      if (error) this.discarded = true;
      this.refs--;
      this.maybeRelease();
    };
  }

  /** Marks one more write that reads this slab. */
  retain(): void {
    this.refs++;
  }

  /** The flush is done writing into this slab. */
  seal(): void {
    this.sealed = true;
    this.maybeRelease();
  }

  /** Made ready for reuse by the pool. */
  reset(): void {
    this.refs = 0;
    this.sealed = false;
    this.discarded = false;
  }

  private maybeRelease(): void {
    if (this.sealed && this.refs === 0 && !this.discarded) this.pool.release(this);
  }
}

export class BufferPool {
  private readonly free: Slab[] = [];

  constructor(
    readonly slabBytes = 64 * 1024,
    /** Free slabs kept for reuse; beyond this they are left to the GC, so the pool stays bounded. */
    private readonly maxFree = 32,
  ) {}

  acquire(): Slab {
    const slab = this.free.pop();
    if (slab !== undefined) {
      slab.reset();
      return slab;
    }
    return new Slab(this.slabBytes, this);
  }

  release(slab: Slab): void {
    if (this.free.length < this.maxFree) this.free.push(slab);
  }

  /** Free slabs held (for tests). */
  get freeCount(): number {
    return this.free.length;
  }
}
