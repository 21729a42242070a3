/**
 * The wire codec: RaftMessage <-> bytes, for transports that send bytes.
 *
 * The format (layout in format.ts) is compact and canonical: every message
 * has exactly one encoding, and `decodeMessage` accepts nothing else. Varints
 * must be in their shortest form, booleans are 0 or 1, strings are strict
 * UTF-8, and AppendEntries carries no per-entry index (entry i of a message
 * is at prevLogIndex + 1 + i, §5.3), so there is nothing to disagree on.
 * Hence for any frame that decodes, encodeMessage(decodeMessage(frame)) gives
 * back the same bytes, which is what the fuzz tests check.
 *
 * `decodeMessage` checks structure and bounds, not Raft semantics: a frame
 * whose entries carry terms above the message's term decodes fine and is the
 * core's business to judge, exactly as if it had arrived as an object. (What
 * it does check of an InstallSnapshot, a chunk that fits its snapshot and a
 * configuration without repeated ids, is in install-snapshot.ts.)
 */
import { DecodeError } from '../errors.js';
import type { AppendEntries, Entry, MessageType, RaftMessage } from '../messages.js';
import { CODEC_VERSION, MAX_CTX_BYTES, MAX_ENTRIES, MAX_ID_BYTES, MESSAGE_TAGS, MIN_ENTRY_BYTES } from './format.js';
import { ENTRY_TYPE_CODES, ENTRY_TYPES_BY_CODE, isEntryType } from './entry-types.js';
import { checkBool, startFrame, stringLength, uintSize } from './frame-writer.js';
import { decodeInstallSnapshot, encodeInstallSnapshot } from './install-snapshot.js';
import { ByteReader } from './reader.js';
import { varintSize } from './writer.js';

export { CODEC_VERSION } from './format.js';

// ---------------------------------------------------------------------------
// Encoding (field checks and the envelope in frame-writer.ts)
// ---------------------------------------------------------------------------

/** The body size of an AppendEntries, checking every entry on the way. */
function appendEntriesBodySize(message: AppendEntries): number {
  const entries: unknown = message.entries;
  if (!Array.isArray(entries)) throw new TypeError('encodeMessage: entries must be an array');
  const count = entries.length;
  if (count > MAX_ENTRIES) {
    throw new RangeError(`encodeMessage: ${count} entries is more than the limit of ${MAX_ENTRIES}`);
  }
  let size =
    uintSize(message.prevLogIndex, 'prevLogIndex') +
    uintSize(message.prevLogTerm, 'prevLogTerm') +
    uintSize(message.leaderCommit, 'leaderCommit') +
    varintSize(count);
  const firstIndex = message.prevLogIndex + 1;
  if (count > 0 && firstIndex + count - 1 > Number.MAX_SAFE_INTEGER) {
    throw new RangeError('encodeMessage: entry indexes would exceed the largest safe integer');
  }
  for (let i = 0; i < count; i++) {
    const entry = entries[i] as Entry;
    if (entry === null || typeof entry !== 'object')
      throw new TypeError(`encodeMessage: entries[${i}] must be an object`);
    // Only the first index travels, so a gap or reordering would be silently
    // renumbered by the receiver; refuse it here instead (§5.3: an append
    // carries a contiguous run following prevLogIndex).
    if (entry.index !== firstIndex + i) {
      throw new RangeError(
        `encodeMessage: entries[${i}].index must be ${firstIndex + i} (prevLogIndex + ${i + 1}), got ${String(entry.index)}`,
      );
    }
    if (!isEntryType(entry.type)) {
      throw new TypeError(
        `encodeMessage: entries[${i}].type must be normal, noop or config, got ${String(entry.type)}`,
      );
    }
    const data: unknown = entry.data;
    if (!(data instanceof Uint8Array)) throw new TypeError(`encodeMessage: entries[${i}].data must be a Uint8Array`);
    size += uintSize(entry.term, 'entry term') + 1 + varintSize(data.length) + data.length;
  }
  return size;
}

type FieldKind = 'uint' | 'bool';
type FixedBody = readonly (readonly [field: string, kind: FieldKind])[];

/**
 * The bodies of the messages that carry only numbers and booleans: each
 * field in wire order, an unsigned varint (a term, an index, a counter) or a
 * one-byte boolean. The decoders in BODY_DECODERS read the same order. (The
 * type checks each name against its message.)
 */
const FIXED_LAYOUTS = {
  RequestVote: [
    ['lastLogIndex', 'uint'],
    ['lastLogTerm', 'uint'],
    ['preVote', 'bool'],
    ['transfer', 'bool'],
  ],
  RequestVoteResponse: [
    ['granted', 'bool'],
    ['preVote', 'bool'],
  ],
  AppendEntriesResponse: [
    ['success', 'bool'],
    ['matchIndex', 'uint'],
    ['rejectedIndex', 'uint'],
    ['hintIndex', 'uint'],
    ['hintTerm', 'uint'],
  ],
  Heartbeat: [
    ['commit', 'uint'],
    ['readSeq', 'uint'],
  ],
  HeartbeatResponse: [['readSeq', 'uint']],
  InstallSnapshotResponse: [
    ['snapshotIndex', 'uint'],
    ['received', 'uint'],
    ['done', 'bool'],
  ],
  TimeoutNow: [],
} satisfies {
  readonly [T in MessageType]?: readonly (readonly [field: keyof Extract<RaftMessage, { type: T }>, kind: FieldKind])[];
};

/** A Map, so that a `type` such as "toString" finds nothing. */
const FIXED_BODIES: ReadonlyMap<string, FixedBody> = new Map(Object.entries(FIXED_LAYOUTS));

function encodeFixed(message: RaftMessage, body: FixedBody): Uint8Array {
  const fields = message as unknown as Record<string, unknown>;
  const count = body.length;
  let size = 0;
  for (let i = 0; i < count; i++) {
    const field = body[i][0];
    if (body[i][1] === 'uint') {
      size += uintSize(fields[field], field);
    } else {
      checkBool(fields[field], field);
      size += 1;
    }
  }
  const w = startFrame(message, MESSAGE_TAGS[message.type], size);
  for (let i = 0; i < count; i++) {
    const value = fields[body[i][0]];
    if (body[i][1] === 'uint') w.varint(value as number);
    else w.bool(value as boolean);
  }
  return w.bytes;
}

/**
 * Encodes a message as one frame. Throws TypeError or RangeError for a
 * message that breaks the format's rules (non-integer or negative numbers,
 * empty or oversized ids, non-consecutive entry indexes, …).
 */
export function encodeMessage(message: RaftMessage): Uint8Array {
  if (message === null || typeof message !== 'object') {
    throw new TypeError('encodeMessage: message must be an object');
  }
  const m = message;
  const fixed = FIXED_BODIES.get(m.type);
  if (fixed !== undefined) return encodeFixed(m, fixed);
  switch (m.type) {
    case 'AppendEntries': {
      const w = startFrame(m, MESSAGE_TAGS.AppendEntries, appendEntriesBodySize(m));
      w.varint(m.prevLogIndex);
      w.varint(m.prevLogTerm);
      w.varint(m.leaderCommit);
      const entries = m.entries;
      w.varint(entries.length);
      for (let i = 0; i < entries.length; i++) {
        const entry = entries[i]!;
        w.varint(entry.term);
        w.byte(ENTRY_TYPE_CODES[entry.type]);
        w.lengthPrefixed(entry.data);
      }
      return w.bytes;
    }
    case 'ReadIndex': {
      const ctxLength = stringLength(m.ctx, 'ctx', MAX_CTX_BYTES, true);
      const w = startFrame(m, MESSAGE_TAGS.ReadIndex, varintSize(ctxLength) + ctxLength);
      w.string(m.ctx, ctxLength);
      return w.bytes;
    }
    case 'ReadIndexResponse': {
      const ctxLength = stringLength(m.ctx, 'ctx', MAX_CTX_BYTES, true);
      checkBool(m.ok, 'ok');
      const body = varintSize(ctxLength) + ctxLength + uintSize(m.index, 'index') + 1;
      const w = startFrame(m, MESSAGE_TAGS.ReadIndexResponse, body);
      w.string(m.ctx, ctxLength);
      w.varint(m.index);
      w.bool(m.ok);
      return w.bytes;
    }
    case 'InstallSnapshot':
      return encodeInstallSnapshot(m);
    default:
      throw new TypeError(`encodeMessage: unknown message type ${String((m as { type?: unknown }).type)}`);
  }
}

// ---------------------------------------------------------------------------
// Decoding
// ---------------------------------------------------------------------------

interface Envelope {
  readonly from: string;
  readonly to: string;
  readonly term: number;
}

/**
 * Reads AppendEntries' entries, which fill the rest of the frame.
 *
 * Entry data must outlive the frame: a transport typically reuses its
 * receive buffer, while the core keeps entries in its log indefinitely, so
 * views into the caller's buffer would be silently overwritten later. Yet a
 * copy per entry costs an allocation each. So the tail of the frame that
 * holds the entries is copied once, and every entry's `data` is a view into
 * that private copy: the result never references the caller's `bytes`, at
 * the cost of one allocation per message. (A consequence users may see:
 * `data.byteOffset` is generally not 0 and `data.buffer` is shared by the
 * entries of one message.)
 */
function readEntries(reader: ByteReader, prevLogIndex: number): Entry[] {
  const count = reader.varint('entry count');
  if (count > MAX_ENTRIES) reader.fail(`entry count ${count} is more than the limit of ${MAX_ENTRIES}`);
  // Checked before the array is made: a forged count cannot allocate more
  // than the input itself could describe.
  if (count * MIN_ENTRY_BYTES > reader.remaining) {
    reader.fail(
      `truncated input: ${count} entries need at least ${count * MIN_ENTRY_BYTES} bytes, ${reader.remaining} remain`,
    );
  }
  if (count === 0) return [];
  if (prevLogIndex + count > Number.MAX_SAFE_INTEGER) {
    reader.fail('entry indexes would exceed the largest safe integer');
  }
  const tailStart = reader.offset;
  const tail: ByteReader = new ByteReader(reader.bytes.slice(tailStart), 0, tailStart);
  const entries: Entry[] = new Array<Entry>(count);
  for (let i = 0; i < count; i++) {
    const term = tail.varint('entry term');
    const typeTag = tail.byte('entry type');
    const type = ENTRY_TYPES_BY_CODE[typeTag];
    if (type === undefined) tail.fail(`unknown entry type tag ${typeTag}`, tail.offset - 1);
    const data = tail.lengthPrefixed('entry data');
    entries[i] = { index: prevLogIndex + 1 + i, term, type, data };
  }
  tail.expectEnd();
  // The tail reader consumed everything after tailStart.
  reader.skipToEnd();
  return entries;
}

type BodyDecoder = (reader: ByteReader, envelope: Envelope) => RaftMessage;

/** Indexed by message tag; each reads the fields in the order the encoder writes them. */
const BODY_DECODERS: readonly (BodyDecoder | undefined)[] = (() => {
  const decoders: (BodyDecoder | undefined)[] = [];
  decoders[MESSAGE_TAGS.RequestVote] = (r, { from, to, term }) => ({
    type: 'RequestVote',
    from,
    to,
    term,
    lastLogIndex: r.varint('lastLogIndex'),
    lastLogTerm: r.varint('lastLogTerm'),
    preVote: r.bool('preVote'),
    transfer: r.bool('transfer'),
  });
  decoders[MESSAGE_TAGS.RequestVoteResponse] = (r, { from, to, term }) => ({
    type: 'RequestVoteResponse',
    from,
    to,
    term,
    granted: r.bool('granted'),
    preVote: r.bool('preVote'),
  });
  decoders[MESSAGE_TAGS.AppendEntries] = (r, { from, to, term }) => {
    const prevLogIndex = r.varint('prevLogIndex');
    const prevLogTerm = r.varint('prevLogTerm');
    const leaderCommit = r.varint('leaderCommit');
    const entries = readEntries(r, prevLogIndex);
    return { type: 'AppendEntries', from, to, term, prevLogIndex, prevLogTerm, entries, leaderCommit };
  };
  decoders[MESSAGE_TAGS.AppendEntriesResponse] = (r, { from, to, term }) => ({
    type: 'AppendEntriesResponse',
    from,
    to,
    term,
    success: r.bool('success'),
    matchIndex: r.varint('matchIndex'),
    rejectedIndex: r.varint('rejectedIndex'),
    hintIndex: r.varint('hintIndex'),
    hintTerm: r.varint('hintTerm'),
  });
  decoders[MESSAGE_TAGS.Heartbeat] = (r, { from, to, term }) => ({
    type: 'Heartbeat',
    from,
    to,
    term,
    commit: r.varint('commit'),
    readSeq: r.varint('readSeq'),
  });
  decoders[MESSAGE_TAGS.HeartbeatResponse] = (r, { from, to, term }) => ({
    type: 'HeartbeatResponse',
    from,
    to,
    term,
    readSeq: r.varint('readSeq'),
  });
  decoders[MESSAGE_TAGS.ReadIndex] = (r, { from, to, term }) => ({
    type: 'ReadIndex',
    from,
    to,
    term,
    ctx: r.string('ctx', MAX_CTX_BYTES, true),
  });
  decoders[MESSAGE_TAGS.ReadIndexResponse] = (r, { from, to, term }) => ({
    type: 'ReadIndexResponse',
    from,
    to,
    term,
    ctx: r.string('ctx', MAX_CTX_BYTES, true),
    index: r.varint('index'),
    ok: r.bool('ok'),
  });
  decoders[MESSAGE_TAGS.InstallSnapshot] = decodeInstallSnapshot;
  decoders[MESSAGE_TAGS.InstallSnapshotResponse] = (r, { from, to, term }) => ({
    type: 'InstallSnapshotResponse',
    from,
    to,
    term,
    snapshotIndex: r.varint('snapshotIndex'),
    received: r.varint('received'),
    done: r.bool('done'),
  });
  decoders[MESSAGE_TAGS.TimeoutNow] = (_r, { from, to, term }) => ({ type: 'TimeoutNow', from, to, term });
  return decoders;
})();

function decodeFrame(bytes: Uint8Array): RaftMessage {
  const reader: ByteReader = new ByteReader(bytes);
  const version = reader.byte('version');
  if (version !== CODEC_VERSION) {
    reader.fail(`unsupported format version ${version} (this codec reads version ${CODEC_VERSION})`, 0);
  }
  const tag = reader.byte('message type');
  const decodeBody = BODY_DECODERS[tag];
  if (decodeBody === undefined) reader.fail(`unknown message type tag ${tag}`, 1);
  const envelope: Envelope = {
    from: reader.string('from', MAX_ID_BYTES, false),
    to: reader.string('to', MAX_ID_BYTES, false),
    term: reader.varint('term'),
  };
  const message = decodeBody(reader, envelope);
  reader.expectEnd();
  return message;
}

/**
 * Decodes one frame made by encodeMessage. Whatever it is given, it either
 * returns a well-formed RaftMessage or throws a DecodeError whose `reason`
 * says what was wrong; it never throws anything else.
 *
 * The returned message shares no memory with `bytes` (see readEntries), so
 * the caller may reuse its buffer at once.
 */
export function decodeMessage(bytes: Uint8Array): RaftMessage {
  try {
    if (!(bytes instanceof Uint8Array)) {
      throw new DecodeError(`expected a Uint8Array, got ${describeValue(bytes)}`);
    }
    return decodeFrame(bytes);
  } catch (error) {
    if (DecodeError.isInstance(error)) throw error;
    // Last line of defence: a bug here must still reach the transport as a
    // DecodeError (which it drops), never as an exception that kills it.
    const detail = error instanceof Error ? error.message : String(error);
    throw new DecodeError(`internal error while decoding: ${detail}`, { cause: error });
  }
}

function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value !== 'object') return typeof value;
  const name: unknown = (Object.getPrototypeOf(value) as { constructor?: { name?: unknown } } | null)?.constructor
    ?.name;
  return typeof name === 'string' && name !== '' ? name : 'object';
}
