import type { InstallSnapshot, Snapshot, SnapshotMetadata } from '../messages.js';

/**
 * A follower's side of a snapshot transfer (§7): the chunks of one snapshot
 * kept in order until the last one, when the whole snapshot is handed over
 * for installing. A chunk that does not start where the received bytes end
 * (lost, duplicated or reordered) is not kept; the answer says where the
 * next one must start, and the leader resumes from there.
 */
export class SnapshotReceiver {
  private meta: SnapshotMetadata | null = null;
  private total = 0;
  private chunks: Uint8Array[] = [];
  private received = 0;

  /** Adds a chunk. Returns the bytes received in order so far, or the snapshot once it is whole. */
  receive(m: InstallSnapshot): { received: number; snapshot: null } | { received: number; snapshot: Snapshot } {
    if (!this.isFor(m)) {
      // A new snapshot (or a restarted transfer): what was kept of another one goes.
      this.meta = m.offset === 0 ? m.snapshot : null;
      this.total = m.totalBytes;
      this.chunks = [];
      this.received = 0;
      if (this.meta === null) return { received: 0, snapshot: null };
    }
    if (m.offset !== this.received || m.data.byteLength > this.total - this.received) {
      return { received: this.received, snapshot: null };
    }
    if (m.data.byteLength > 0) this.chunks.push(m.data);
    this.received += m.data.byteLength;
    if (this.received < this.total) return { received: this.received, snapshot: null };
    const snapshot = { ...this.meta!, data: concat(this.chunks, this.total) };
    this.meta = null;
    this.chunks = [];
    this.received = 0;
    return { received: this.total, snapshot };
  }

  private isFor(m: InstallSnapshot): boolean {
    const meta = this.meta;
    return (
      meta !== null && meta.index === m.snapshot.index && meta.term === m.snapshot.term && this.total === m.totalBytes
    );
  }
}

function concat(chunks: readonly Uint8Array[], total: number): Uint8Array {
  if (chunks.length === 1) return chunks[0];
  const out = new Uint8Array(total);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.byteLength;
  }
  return out;
}
