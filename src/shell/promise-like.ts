/**
 * True for anything `await` would wait on. Adapters and state machines may
 * return any thenable, and the shell stays synchronous when they return none.
 */
export function isPromiseLike(value: unknown): value is PromiseLike<unknown> {
  return typeof value === 'object' && value !== null && typeof (value as { then?: unknown }).then === 'function';
}

/**
 * Runs `next` with what `first` gives: at once when `first` is not a
 * promise, so a synchronous world (MemoryStorage, a synchronous state
 * machine) stays synchronous; after it settles otherwise.
 */
export function andThen<T, U>(first: T | PromiseLike<T>, next: (value: T) => U): U | Promise<Awaited<U>> {
  if (isPromiseLike(first)) return Promise.resolve(first as PromiseLike<T>).then(next) as Promise<Awaited<U>>;
  return next(first as T);
}
