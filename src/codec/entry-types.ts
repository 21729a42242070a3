/**
 * The one table of entry types. An entry's type is encoded as one byte in
 * two formats: in a message on the wire (codec.ts) and in a record of the
 * write-ahead log (storage/wal/payload.ts). Both take the byte from here, so
 * the two cannot drift apart.
 */
import type { EntryType } from '../messages.js';

/**
 * Each entry type's code, in both formats. Codes are part of what is on
 * disk and on the wire: never renumber one; a new type takes a new code
 * (the Record type makes a type added to EntryType without a code here a
 * compile error).
 */
export const ENTRY_TYPE_CODES: Readonly<Record<EntryType, number>> = {
  normal: 0,
  noop: 1,
  config: 2,
};

/** The same table read the other way: the type of each code, undefined for a code that has none. */
export const ENTRY_TYPES_BY_CODE: readonly (EntryType | undefined)[] = (() => {
  const byCode: (EntryType | undefined)[] = [];
  for (const [type, code] of Object.entries(ENTRY_TYPE_CODES)) byCode[code] = type as EntryType;
  return byCode;
})();

/** Whether `value` names an entry type (for checking entries that come from users' code). */
export function isEntryType(value: unknown): value is EntryType {
  return typeof value === 'string' && Object.hasOwn(ENTRY_TYPE_CODES, value);
}
