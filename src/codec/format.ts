/**
 * The constants of the wire format: its version, the tag of each message
 * type, and the caps that bound what a decoder will accept. (Entry types
 * have their codes in entry-types.ts, which the write-ahead log shares.)
 *
 * Frame layout (all integers unsigned LEB128 varints, see ByteReader.varint):
 *
 *   u8 version (CODEC_VERSION) · u8 message tag · id from · id to · term · body
 *
 * where an id or string is a varint byte length followed by UTF-8, a boolean
 * is one byte 0 or 1, and the body holds the message's own fields in the
 * order given in codec.ts. Nothing may follow the body.
 */
import type { MessageType } from '../messages.js';

/**
 * Bumped on any incompatible change to the layout. A decoder refuses every
 * other version outright: guessing at a newer peer's bytes could turn them
 * into a wrong term or index, which is worse than dropping the message.
 *
 * Version 2 adds InstallSnapshot and InstallSnapshotResponse (§7). The
 * layout of the older messages is unchanged, but a version-1 peer cannot
 * read the new ones, and a version-2 leader compacts its log, so it can
 * bring a follower that is far behind up to date only by a snapshot. Had
 * the version stayed 1, the TCP handshake would connect the two, and the
 * old follower would close the connection at every chunk (an unknown
 * message type) and never catch up, with nothing but a decode error in its
 * log to say why. With the bump the handshake refuses the pair up front
 * and names both versions. (A cluster is upgraded node by node: a majority
 * of one version keeps committing while the others are refused.)
 */
export const CODEC_VERSION = 2;

/** One byte per message type. Zero is left unused so an all-zero frame is never valid. */
export const MESSAGE_TAGS: Readonly<Record<MessageType, number>> = {
  RequestVote: 1,
  RequestVoteResponse: 2,
  AppendEntries: 3,
  AppendEntriesResponse: 4,
  Heartbeat: 5,
  HeartbeatResponse: 6,
  ReadIndex: 7,
  ReadIndexResponse: 8,
  TimeoutNow: 9,
  InstallSnapshot: 10,
  InstallSnapshotResponse: 11,
};

/** The largest tag in use; every byte above it (and 0) is an unknown message type. */
export const MAX_MESSAGE_TAG = Math.max(...Object.values(MESSAGE_TAGS));

/** Longest node id, in UTF-8 bytes. Ids are names, not payloads. */
export const MAX_ID_BYTES = 255;

/** Longest ReadIndex context, in UTF-8 bytes. */
export const MAX_CTX_BYTES = 1024;

/**
 * Most entries one AppendEntries may carry. The leader batches far fewer;
 * the cap only stops a forged count from making the decoder loop for long.
 * (Allocation is bounded separately: each entry takes at least
 * MIN_ENTRY_BYTES of input, so the count is also checked against the bytes
 * that remain.)
 */
export const MAX_ENTRIES = 1 << 20;

/** An entry's smallest encoding: a one-byte term, its type tag and a one-byte zero data length. */
export const MIN_ENTRY_BYTES = 3;

/**
 * A member id's smallest encoding in a snapshot's configuration: a one-byte
 * length and one byte of UTF-8. Bounds what a forged member count may make
 * the decoder allocate, like MIN_ENTRY_BYTES for entries.
 */
export const MIN_MEMBER_BYTES = 2;

/** Longest varint: 8 bytes carry 56 bits, enough for 2^53 - 1 (Number.MAX_SAFE_INTEGER). */
export const MAX_VARINT_BYTES = 8;
