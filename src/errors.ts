/**
 * The errors bellwether throws. Every one carries a literal `code` and a
 * `Symbol.for('bellwether.error.<CODE>')` brand. An ESM + CommonJS dual build
 * can load the package twice, and then the ordinary `instanceof` against the
 * other copy's class is silently false; `Symbol.for` keys are shared by the
 * whole process, so both `instanceof` (through `Symbol.hasInstance`, as undici
 * does) and the static `isInstance()` check the brand instead.
 */

export type RaftErrorCode =
  | 'CONFIG'
  | 'NOT_LEADER'
  | 'LEADERSHIP_LOST'
  | 'STOPPED'
  | 'TIMEOUT'
  | 'DECODE'
  | 'STORAGE'
  | 'CORRUPTION'
  | 'TRANSPORT';

const RAFT_ERROR_BRAND = Symbol.for('bellwether.error');

function brandOf(code: RaftErrorCode): symbol {
  return Symbol.for(`bellwether.error.${code}`);
}

function hasBrand(value: unknown, brand: symbol): boolean {
  return (
    (typeof value === 'object' || typeof value === 'function') &&
    value !== null &&
    (value as Record<symbol, unknown>)[brand] === true
  );
}

/** Each of bellwether's error classes and its own brand (never inherited: see isInstanceOf). */
const classBrands = new WeakMap<object, symbol>();

/**
 * Marks a class's prototype with a brand and its `name`, so every instance
 * (and every instance of a subclass) carries both without an own property
 * cluttering the error when it is printed, and records the brand as the
 * class's own.
 */
function brand(cls: { prototype: object }, name: string, symbol: symbol): void {
  Object.defineProperty(cls.prototype, symbol, { value: true });
  Object.defineProperty(cls.prototype, 'name', {
    value: name,
    writable: true,
    configurable: true,
  });
  classBrands.set(cls, symbol);
  // `isInstance` often travels detached from its class (`errors.some(NotLeaderError.isInstance)`,
  // `const { isInstance } = StoppedError`): then `this` is undefined and the class is this one.
  Object.defineProperty(cls, 'isInstance', {
    value: function isInstance(this: unknown, value: unknown): boolean {
      return isInstanceOf(typeof this === 'function' ? this : cls, value);
    },
    writable: true,
    configurable: true,
  });
}

/**
 * Whether `value` is an instance of `cls`, made by this copy of the package
 * or another. Each class checks its own brand, so a StoppedError is not a
 * NotLeaderError and a CorruptionError is a StorageError (its prototype
 * inherits StorageError's brand). A user's subclass of one of these classes
 * has no brand of its own; for it, the ordinary prototype-chain test.
 */
function isInstanceOf(cls: unknown, value: unknown): boolean {
  if (typeof cls !== 'function') {
    throw new TypeError('isInstance must be called on an error class, as in NotLeaderError.isInstance(error)');
  }
  const symbol = classBrands.get(cls);
  return symbol === undefined ? Function.prototype[Symbol.hasInstance].call(cls, value) : hasBrand(value, symbol);
}

/** The base of every error bellwether throws; `C` narrows `code` in each subclass. */
export class RaftError<C extends RaftErrorCode = RaftErrorCode> extends Error {
  readonly code: C;

  constructor(code: C, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }

  /**
   * `value instanceof SomeError`, for this class and every subclass (static
   * methods are inherited, and `this` is the class on the right of
   * `instanceof`): true for an instance made by this copy of the package or
   * another (see isInstanceOf).
   */
  static override [Symbol.hasInstance](value: unknown): boolean {
    return isInstanceOf(this, value);
  }

  /**
   * The same test as `instanceof`, as a type guard: `NotLeaderError.isInstance(error)`
   * is true for a NotLeaderError from this copy of the package or another.
   * It may be passed around detached from its class (see brand()).
   */
  static isInstance<T>(this: abstract new (...args: never[]) => T, value: unknown): value is T {
    return isInstanceOf(this, value);
  }
}
brand(RaftError, 'RaftError', RAFT_ERROR_BRAND);

/** One problem found in the options: a dotted path (`''` for the whole input) and why. */
export interface ConfigIssue {
  readonly path: string;
  readonly message: string;
}

function describeIssues(issues: readonly ConfigIssue[]): string {
  const line = (issue: ConfigIssue) => (issue.path === '' ? issue.message : `${issue.path}: ${issue.message}`);
  if (issues.length === 1) return `Invalid configuration: ${line(issues[0])}`;
  return [`Invalid configuration (${issues.length} problems):`, ...issues.map((issue) => `  - ${line(issue)}`)].join(
    '\n',
  );
}

/**
 * Invalid options or an invalid request (such as a membership change that
 * makes no sense). Lists every problem found, not only the first, so one
 * run shows the user everything to fix.
 */
export class ConfigError extends RaftError<'CONFIG'> {
  readonly issues: readonly ConfigIssue[];

  /** A string is shorthand for one issue about the whole input. */
  constructor(issues: readonly ConfigIssue[] | string, options?: { cause?: unknown }) {
    const list: readonly ConfigIssue[] = Object.freeze(
      typeof issues === 'string'
        ? [{ path: '', message: issues }]
        : issues.map((issue) => Object.freeze({ path: issue.path, message: issue.message })),
    );
    super('CONFIG', describeIssues(list), options);
    this.issues = list;
  }
}

/** This node is not the leader; nothing was appended. `leaderId` is a hint, null when none is known. */
export class NotLeaderError extends RaftError<'NOT_LEADER'> {
  readonly leaderId: string | null;

  constructor(leaderId: string | null, message?: string) {
    super(
      'NOT_LEADER',
      message ??
        (leaderId === null
          ? 'This node is not the leader and no leader is known'
          : `This node is not the leader; the leader is "${leaderId}"`),
    );
    this.leaderId = leaderId;
  }
}

/**
 * Leadership was lost after the proposal was appended. Its outcome is
 * unknown: a later leader may still commit the entry.
 */
export class LeadershipLostError extends RaftError<'LEADERSHIP_LOST'> {
  constructor(message = 'Leadership was lost after the entry was appended; it may or may not commit') {
    super('LEADERSHIP_LOST', message);
  }
}

/** The node was stopped (or is not started) before the call could complete. */
export class StoppedError extends RaftError<'STOPPED'> {
  constructor(message = 'The node is stopped') {
    super('STOPPED', message);
  }
}

/** A `timeoutMs` passed. For a proposal the outcome is unknown, as with LeadershipLostError. */
export class TimeoutError extends RaftError<'TIMEOUT'> {
  constructor(message = 'The operation timed out') {
    super('TIMEOUT', message);
  }
}

/** Bytes that are not a valid encoded message; `reason` says what was wrong. */
export class DecodeError extends RaftError<'DECODE'> {
  readonly reason: string;

  constructor(reason: string, options?: { cause?: unknown }) {
    super('DECODE', `Cannot decode message: ${reason}`, options);
    this.reason = reason;
  }
}

/** Storage failed or was misused. The node stops rather than run on half-written state. */
export class StorageError extends RaftError<'STORAGE' | 'CORRUPTION'> {
  constructor(message: string, options?: { cause?: unknown });
  /** For subclasses: a more specific code. */
  constructor(message: string, options: { cause?: unknown } | undefined, code: 'CORRUPTION');
  constructor(message: string, options?: { cause?: unknown }, code: 'STORAGE' | 'CORRUPTION' = 'STORAGE') {
    super(code, message, options);
  }
}

/** Stored data is damaged (not merely a torn tail): never skipped silently. */
export class CorruptionError extends StorageError {
  declare readonly code: 'CORRUPTION';
  /** The damaged file, when known. */
  readonly file: string | undefined;
  /** The byte offset of the damage in `file`, when known. */
  readonly offset: number | undefined;

  constructor(message: string, options?: { cause?: unknown; file?: string; offset?: number }) {
    const where =
      options?.file === undefined
        ? ''
        : options.offset === undefined
          ? ` (${options.file})`
          : ` (${options.file} at byte ${options.offset})`;
    super(`${message}${where}`, options?.cause === undefined ? undefined : { cause: options.cause }, 'CORRUPTION');
    this.file = options?.file;
    this.offset = options?.offset;
  }
}

/** The transport could not start (for example, its port is taken); `cause` holds the transport's own error. */
export class TransportError extends RaftError<'TRANSPORT'> {
  constructor(message: string, options?: { cause?: unknown }) {
    super('TRANSPORT', message, options);
  }
}

// Every class gets its name and its own brand, by one table (RaftError's is above).
const BRANDED: readonly (readonly [{ prototype: object }, string, RaftErrorCode])[] = [
  [ConfigError, 'ConfigError', 'CONFIG'],
  [NotLeaderError, 'NotLeaderError', 'NOT_LEADER'],
  [LeadershipLostError, 'LeadershipLostError', 'LEADERSHIP_LOST'],
  [StoppedError, 'StoppedError', 'STOPPED'],
  [TimeoutError, 'TimeoutError', 'TIMEOUT'],
  [DecodeError, 'DecodeError', 'DECODE'],
  [StorageError, 'StorageError', 'STORAGE'],
  [CorruptionError, 'CorruptionError', 'CORRUPTION'],
  [TransportError, 'TransportError', 'TRANSPORT'],
];
for (const [cls, name, code] of BRANDED) brand(cls, name, brandOf(code));

/**
 * The platform's AbortError, as `fetch` and timers/promises reject with. An
 * abort reason that is an Error or a string becomes the message and the
 * `cause`, so the user's reason is not lost.
 */
export function abortError(reason?: unknown): DOMException {
  if (reason instanceof DOMException && reason.name === 'AbortError') return reason;
  const message =
    typeof reason === 'string' ? reason : reason instanceof Error ? reason.message : 'The operation was aborted';
  return reason === undefined
    ? new DOMException(message, 'AbortError')
    : new DOMException(message, { name: 'AbortError', cause: reason });
}

/** Throws the platform AbortError when `signal` is already aborted. */
export function throwIfAborted(signal?: AbortSignal): void {
  if (signal?.aborted) throw abortError(signal.reason);
}
