/**
 * True for anything `await` would wait on. Adapters and state machines may
 * return any thenable, and the shell stays synchronous when they return none.
 */
export function isPromiseLike(value: unknown): value is PromiseLike<unknown> {
  return typeof value === 'object' && value !== null && typeof (value as { then?: unknown }).then === 'function';
}
