import { utf8ByteLength } from '../codec/utf8.js';
import { StorageError } from '../errors.js';
import type { NodeId } from '../messages.js';
import { crc32c } from './crc32c.js';
import type { Snapshot } from './storage.js';
import { readU32, readU64, writeU32, writeU64 } from './wal/record.js';

/**
 * A snapshot file, `snapshot-<index>-<term>.snap`:
 *
 *   "BWSNAP01"  8 bytes of magic (format version 1)
 *   index u64, term u64
 *   voter count u32, then per voter: length u16, UTF-8 id
 *   learner count u32, then the same
 *   data length u64, data
 *   CRC-32C u32 of everything before it
 *
 * It is written whole to a `.tmp` file, synced, renamed and the directory
 * synced, so a crash leaves either the complete file or no file by this
 * name; the checksum still guards against damage at rest.
 */
const MAGIC = Buffer.from('BWSNAP01', 'latin1');
const SNAPSHOT_PATTERN = /^snapshot-(\d{16})-(\d{16})\.snap$/;

export function snapshotName(index: number, term: number): string {
  return `snapshot-${String(index).padStart(16, '0')}-${String(term).padStart(16, '0')}.snap`;
}

export function parseSnapshotName(name: string): { index: number; term: number } | null {
  const match = SNAPSHOT_PATTERN.exec(name);
  return match === null ? null : { index: Number(match[1]), term: Number(match[2]) };
}

/** The snapshot files among `names`, newest first (by index, then term). */
export function snapshotFiles(names: readonly string[]): { name: string; index: number; term: number }[] {
  const found: { name: string; index: number; term: number }[] = [];
  for (const name of names) {
    const parsed = parseSnapshotName(name);
    if (parsed !== null) found.push({ name, ...parsed });
  }
  return found.sort((a, b) => b.index - a.index || b.term - a.term);
}

function idsBytes(ids: readonly NodeId[], what: string): number {
  let size = 4;
  for (const id of ids) {
    const length = typeof id === 'string' ? utf8ByteLength(id) : -1;
    if (length < 0 || length > 0xffff) {
      throw new StorageError(
        `Cannot store the snapshot: every ${what} id must be a well-formed string of at most 65535 bytes`,
      );
    }
    size += 2 + length;
  }
  return size;
}

function writeIds(buffer: Buffer, at: number, ids: readonly NodeId[]): number {
  writeU32(buffer, at, ids.length);
  at += 4;
  for (const id of ids) {
    const length = buffer.write(id, at + 2, 'utf8');
    buffer[at] = length & 0xff;
    buffer[at + 1] = length >>> 8;
    at += 2 + length;
  }
  return at;
}

export function encodeSnapshotFile(snapshot: Snapshot): Buffer {
  const size =
    MAGIC.length +
    16 +
    idsBytes(snapshot.voters, 'voter') +
    idsBytes(snapshot.learners, 'learner') +
    8 +
    snapshot.data.length +
    4;
  const buffer = Buffer.allocUnsafe(size);
  MAGIC.copy(buffer, 0);
  let at = MAGIC.length;
  writeU64(buffer, at, snapshot.index);
  writeU64(buffer, at + 8, snapshot.term);
  at = writeIds(buffer, at + 16, snapshot.voters);
  at = writeIds(buffer, at, snapshot.learners);
  writeU64(buffer, at, snapshot.data.length);
  buffer.set(snapshot.data, at + 8);
  at += 8 + snapshot.data.length;
  writeU32(buffer, at, crc32c(buffer, 0, at));
  return buffer;
}

function readIds(bytes: Uint8Array, at: number, end: number): { ids: NodeId[]; next: number } | string {
  if (at + 4 > end) return 'member list is cut short';
  const count = readU32(bytes, at);
  at += 4;
  const ids: NodeId[] = [];
  for (let i = 0; i < count; i++) {
    if (at + 2 > end) return 'member id is cut short';
    const length = bytes[at] | (bytes[at + 1] << 8);
    if (at + 2 + length > end) return 'member id is cut short';
    ids.push(Buffer.from(bytes.buffer, bytes.byteOffset + at + 2, length).toString('utf8'));
    at += 2 + length;
  }
  return { ids, next: at };
}

/** The snapshot in `bytes`, or a string saying why the file is not a valid snapshot. */
export function decodeSnapshotFile(bytes: Uint8Array): Snapshot | string {
  if (bytes.length < MAGIC.length + 16 + 4 + 4 + 8 + 4) return 'file is too short to be a snapshot';
  if (Buffer.compare(Buffer.from(bytes.buffer, bytes.byteOffset, MAGIC.length), MAGIC) !== 0) {
    return 'not a bellwether snapshot (bad magic)';
  }
  const end = bytes.length - 4;
  if (readU32(bytes, end) !== crc32c(bytes, 0, end)) return 'snapshot checksum mismatch';
  let at = MAGIC.length;
  const index = readU64(bytes, at);
  const term = readU64(bytes, at + 8);
  if (index < 1 || term < 0) return 'snapshot index or term out of range';
  const voters = readIds(bytes, at + 16, end);
  if (typeof voters === 'string') return voters;
  const learners = readIds(bytes, voters.next, end);
  if (typeof learners === 'string') return learners;
  at = learners.next;
  if (at + 8 > end) return 'snapshot data length is cut short';
  const length = readU64(bytes, at);
  if (length < 0 || at + 8 + length !== end) return 'snapshot data length does not match the file';
  const data = new Uint8Array(length);
  data.set(bytes.subarray(at + 8, end));
  return { index, term, voters: voters.ids, learners: learners.ids, data };
}
