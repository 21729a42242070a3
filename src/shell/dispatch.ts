import { EventEmitter } from 'eventemitter3';

/** One registration as eventemitter3 stores it (its internal `EE` record). */
interface ListenerRecord {
  readonly fn: (...args: unknown[]) => void;
  /** The `this` of the call: the context given at registration, or the emitter. */
  readonly context: unknown;
  readonly once: boolean;
}

/** eventemitter3 keeps one record, or an array of them once a second listener joins. */
type StoredListeners = ListenerRecord | ListenerRecord[] | undefined;

interface EmitterInternals {
  readonly _events: Record<string, StoredListeners>;
}

/**
 * Calls the listeners of `event` exactly as eventemitter3's own `emit` does
 * (same order, same `this`, a once-registration removed just before its
 * call, a listener added meanwhile not called until the next emit), with one
 * difference: a listener that throws is handed to `onListenerError` and the
 * others still run, so a listener's bug cannot unwind the Raft loop
 * (eventemitter3 calls listeners with no try/catch).
 *
 * Why this mechanism: registration stays eventemitter3's alone (`on`,
 * `once`, `off`, contexts, duplicates, `removeAllListeners`: none is
 * overridden), and dispatch reads eventemitter3's own records, which hold
 * the context and the once flag that `listeners()` leaves out. Any side
 * table beside eventemitter3's list (the earlier WeakSet of once-functions)
 * drifts from it: a function once-registered, removed, then registered
 * again with `on` was still treated as once. The records are internal to
 * eventemitter3, so test/shell/event-dispatch.test.ts compares this function
 * with eventemitter3's `emit` call for call; an upgrade that changes them
 * fails there.
 */
export function emitSafely(
  emitter: EventEmitter,
  event: string,
  args: unknown[],
  onListenerError: (error: unknown) => void,
): boolean {
  const key = typeof EventEmitter.prefixed === 'string' ? EventEmitter.prefixed + event : event;
  const stored = (emitter as unknown as EmitterInternals)._events[key];
  if (stored === undefined) return false;
  // A copy: eventemitter3 appends to the stored array in place when a listener is added during the emit.
  const records = Array.isArray(stored) ? stored.slice() : [stored];
  for (const record of records) {
    if (record.once) emitter.removeListener(event, record.fn, undefined, true);
    try {
      record.fn.apply(record.context, args);
    } catch (error) {
      onListenerError(error);
    }
  }
  return true;
}
