/**
 * InstallSnapshot on the wire (§7, Figure 13): the snapshot's metadata and
 * one chunk of its data. The body, after the envelope, is
 *
 *   snapshot index · snapshot term · voters · learners · offset ·
 *   totalBytes · chunk data
 *
 * where voters and learners are each a varint count followed by that many
 * ids (the envelope's id rules: 1 to MAX_ID_BYTES of strict UTF-8), and the
 * chunk data is a varint length followed by the raw bytes. The data carries
 * its length although it ends the frame, so that a frame cut short is a
 * truncation, never a shorter chunk that decodes.
 *
 * Beyond the structure, a frame must describe a chunk that fits the
 * snapshot (offset + data length <= totalBytes) and a configuration that
 * can exist (no id twice among the voters, nor among the learners, and no
 * voter that is also a learner). The encoder refuses the same messages, so
 * it never makes a frame the decoder would reject.
 */
import type { InstallSnapshot, NodeId, SnapshotMetadata } from '../messages.js';
import { MAX_ID_BYTES, MESSAGE_TAGS, MIN_MEMBER_BYTES } from './format.js';
import { startFrame, stringLength, uintSize } from './frame-writer.js';
import type { ByteReader } from './reader.js';
import { varintSize } from './writer.js';

type Envelope = Pick<InstallSnapshot, 'from' | 'to' | 'term'>;

/** Why a configuration cannot exist, or null: a repeated id, or an id both voter and learner. */
function membersProblem(voters: readonly NodeId[], learners: readonly NodeId[]): string | null {
  const seen = new Set<NodeId>();
  for (const id of voters) {
    if (seen.has(id)) return `voter ${JSON.stringify(id)} is listed twice`;
    seen.add(id);
  }
  const learnerIds = new Set<NodeId>();
  for (const id of learners) {
    if (learnerIds.has(id)) return `learner ${JSON.stringify(id)} is listed twice`;
    if (seen.has(id)) return `${JSON.stringify(id)} is both a voter and a learner`;
    learnerIds.add(id);
  }
  return null;
}

/** Why a chunk does not fit its snapshot, or null. Never sums the two numbers, which could pass 2^53. */
function chunkProblem(offset: number, length: number, totalBytes: number): string | null {
  if (offset > totalBytes || length > totalBytes - offset) {
    return `a chunk of ${length} bytes at offset ${offset} runs past the snapshot's ${totalBytes} bytes`;
  }
  return null;
}

// ---------------------------------------------------------------- encoding

/** Checks a member list and returns the UTF-8 length of each id. */
function memberLengths(value: unknown, field: string): number[] {
  if (!Array.isArray(value)) throw new TypeError(`encodeMessage: ${field} must be an array`);
  const ids = value as unknown[];
  return ids.map((id, i) => stringLength(id, `${field}[${i}]`, MAX_ID_BYTES, false));
}

function membersSize(lengths: readonly number[]): number {
  let size = varintSize(lengths.length);
  for (const length of lengths) size += varintSize(length) + length;
  return size;
}

/** Encodes an InstallSnapshot as one frame; throws TypeError or RangeError for a message the format refuses. */
export function encodeInstallSnapshot(m: InstallSnapshot): Uint8Array {
  const meta: unknown = m.snapshot;
  if (meta === null || typeof meta !== 'object') throw new TypeError('encodeMessage: snapshot must be an object');
  const { index, term, voters, learners } = meta as SnapshotMetadata;
  const voterLengths = memberLengths(voters, 'snapshot.voters');
  const learnerLengths = memberLengths(learners, 'snapshot.learners');
  const members = membersProblem(voters, learners);
  if (members !== null) throw new RangeError(`encodeMessage: snapshot ${members}`);
  const data: unknown = m.data;
  if (!(data instanceof Uint8Array)) throw new TypeError('encodeMessage: data must be a Uint8Array');
  const size =
    uintSize(index, 'snapshot.index') +
    uintSize(term, 'snapshot.term') +
    membersSize(voterLengths) +
    membersSize(learnerLengths) +
    uintSize(m.offset, 'offset') +
    uintSize(m.totalBytes, 'totalBytes') +
    varintSize(data.length) +
    data.length;
  const chunk = chunkProblem(m.offset, data.length, m.totalBytes);
  if (chunk !== null) throw new RangeError(`encodeMessage: ${chunk}`);
  const w = startFrame(m, MESSAGE_TAGS.InstallSnapshot, size);
  w.varint(index);
  w.varint(term);
  w.varint(voters.length);
  for (let i = 0; i < voters.length; i++) w.string(voters[i]!, voterLengths[i]!);
  w.varint(learners.length);
  for (let i = 0; i < learners.length; i++) w.string(learners[i]!, learnerLengths[i]!);
  w.varint(m.offset);
  w.varint(m.totalBytes);
  // The one copy of the chunk on the way out: into the frame the transport sends.
  w.lengthPrefixed(data);
  return w.bytes;
}

// ---------------------------------------------------------------- decoding

function readMembers(r: ByteReader, field: 'voters' | 'learners'): NodeId[] {
  const count = r.varint(`${field} count`);
  // Checked before the array is made: a forged count cannot allocate more
  // than the input itself could describe.
  if (count * MIN_MEMBER_BYTES > r.remaining) {
    r.fail(`truncated input: ${count} ${field} need at least ${count * MIN_MEMBER_BYTES} bytes, ${r.remaining} remain`);
  }
  const ids = new Array<NodeId>(count);
  for (let i = 0; i < count; i++) ids[i] = r.string(`${field}[${i}]`, MAX_ID_BYTES, false);
  return ids;
}

/**
 * Reads an InstallSnapshot body. The chunk data is copied once, at its
 * exact size, out of the frame: the follower keeps chunks until the last
 * one arrives while the transport reuses its buffer (decodeMessage's
 * result shares no memory with its input), and an exact copy is what the
 * follower ends up installing when the snapshot fits in one chunk.
 */
export function decodeInstallSnapshot(r: ByteReader, { from, to, term }: Envelope): InstallSnapshot {
  const index = r.varint('snapshot index');
  const snapshotTerm = r.varint('snapshot term');
  const membersAt = r.offset;
  const voters = readMembers(r, 'voters');
  const learners = readMembers(r, 'learners');
  const members = membersProblem(voters, learners);
  if (members !== null) r.fail(`snapshot configuration: ${members}`, membersAt);
  const offset = r.varint('offset');
  const totalBytes = r.varint('totalBytes');
  const dataAt = r.offset;
  // A view first: nothing is copied before the chunk is known to fit.
  const view = r.lengthPrefixed('chunk data');
  const chunk = chunkProblem(offset, view.length, totalBytes);
  if (chunk !== null) r.fail(chunk, dataAt);
  const snapshot: SnapshotMetadata = { index, term: snapshotTerm, voters, learners };
  return { type: 'InstallSnapshot', from, to, term, snapshot, offset, totalBytes, data: view.slice() };
}
