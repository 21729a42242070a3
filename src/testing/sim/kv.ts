import type { KvInput } from '../linearizability.js';

/**
 * The small key-value state machine the simulator's clients drive. Commands
 * are UTF-8 `op NUL key NUL value`; only writes go through the log (reads
 * use readIndex and then look at the local state).
 */
export type KvWrite = Extract<KvInput, { kind: 'put' } | { kind: 'append' }>;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export function encodeKvWrite(op: KvWrite): Uint8Array {
  return encoder.encode(`${op.kind}\u0000${op.key}\u0000${op.value}`);
}

export function decodeKvWrite(data: Uint8Array): KvWrite {
  const [kind, key, value] = decoder.decode(data).split('\u0000');
  if ((kind !== 'put' && kind !== 'append') || key === undefined || value === undefined) {
    throw new Error(`not a KV command: ${decoder.decode(data)}`);
  }
  return { kind, key, value };
}

export class KvState {
  private values = new Map<string, string>();

  apply(op: KvWrite): void {
    if (op.kind === 'put') this.values.set(op.key, op.value);
    else this.values.set(op.key, (this.values.get(op.key) ?? '') + op.value);
  }

  get(key: string): string | null {
    return this.values.get(key) ?? null;
  }

  /**
   * The whole state as bytes: the pairs sorted by key, so that two equal
   * states give equal bytes whatever order their keys were written in (the
   * simulator compares restored states byte for byte).
   */
  snapshot(): Uint8Array {
    const pairs = [...this.values].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return encoder.encode(JSON.stringify(pairs));
  }

  /** Replaces the whole state with a snapshot's; bytes that are not one are refused, the state unchanged. */
  restore(data: Uint8Array): void {
    const pairs: unknown = JSON.parse(decoder.decode(data));
    if (!Array.isArray(pairs) || !pairs.every(isPair)) throw new Error('not a KV snapshot');
    this.values = new Map(pairs);
  }
}

function isPair(x: unknown): x is [string, string] {
  return Array.isArray(x) && x.length === 2 && typeof x[0] === 'string' && typeof x[1] === 'string';
}
