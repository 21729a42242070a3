/**
 * The errors bellwether throws. Every one carries a literal `code` and a
 * `Symbol.for('bellwether.error.<CODE>')` brand, and each class has a static
 * `isInstance()` that checks the brand: an ESM + CommonJS dual build can load
 * the package twice, and then `instanceof` against the other copy's class is
 * silently false, whereas `Symbol.for` keys are shared by the whole process.
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

/**
 * Marks a class's prototype with a brand and its `name`, so every instance
 * (and every instance of a subclass) carries both without an own property
 * cluttering the error when it is printed.
 */
function brand(cls: { prototype: object }, name: string, symbol: symbol): void {
  Object.defineProperty(cls.prototype, symbol, { value: true });
  Object.defineProperty(cls.prototype, 'name', {
    value: name,
    writable: true,
    configurable: true,
  });
}

/** The base of every error bellwether throws. */
export class RaftError extends Error {
  readonly code: RaftErrorCode;

  constructor(code: RaftErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }

  /** True for any bellwether error, from this copy of the package or another. */
  static isInstance(value: unknown): value is RaftError {
    return hasBrand(value, RAFT_ERROR_BRAND);
  }
}
brand(RaftError, 'RaftError', RAFT_ERROR_BRAND);

/** One problem found in the options: a dotted path (`''` for the whole input) and why. */
export interface ConfigIssue {
  readonly path: string;
  readonly message: string;
}

function describeIssues(issues: readonly ConfigIssue[]): string {
  const line = (issue: ConfigIssue) =>
    issue.path === '' ? issue.message : `${issue.path}: ${issue.message}`;
  if (issues.length === 1) return `Invalid configuration: ${line(issues[0])}`;
  return [
    `Invalid configuration (${issues.length} problems):`,
    ...issues.map((issue) => `  - ${line(issue)}`),
  ].join('\n');
}

/**
 * Invalid options or an invalid request (such as a membership change that
 * makes no sense). Lists every problem found, not only the first, so one
 * run shows the user everything to fix.
 */
export class ConfigError extends RaftError {
  declare readonly code: 'CONFIG';
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

  static override isInstance(value: unknown): value is ConfigError {
    return hasBrand(value, brandOf('CONFIG'));
  }
}
brand(ConfigError, 'ConfigError', brandOf('CONFIG'));

/** This node is not the leader; nothing was appended. `leaderId` is a hint, null when none is known. */
export class NotLeaderError extends RaftError {
  declare readonly code: 'NOT_LEADER';
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

  static override isInstance(value: unknown): value is NotLeaderError {
    return hasBrand(value, brandOf('NOT_LEADER'));
  }
}
brand(NotLeaderError, 'NotLeaderError', brandOf('NOT_LEADER'));

/**
 * Leadership was lost after the proposal was appended. Its outcome is
 * unknown: a later leader may still commit the entry.
 */
export class LeadershipLostError extends RaftError {
  declare readonly code: 'LEADERSHIP_LOST';

  constructor(message = 'Leadership was lost after the entry was appended; it may or may not commit') {
    super('LEADERSHIP_LOST', message);
  }

  static override isInstance(value: unknown): value is LeadershipLostError {
    return hasBrand(value, brandOf('LEADERSHIP_LOST'));
  }
}
brand(LeadershipLostError, 'LeadershipLostError', brandOf('LEADERSHIP_LOST'));

/** The node was stopped (or is not started) before the call could complete. */
export class StoppedError extends RaftError {
  declare readonly code: 'STOPPED';

  constructor(message = 'The node is stopped') {
    super('STOPPED', message);
  }

  static override isInstance(value: unknown): value is StoppedError {
    return hasBrand(value, brandOf('STOPPED'));
  }
}
brand(StoppedError, 'StoppedError', brandOf('STOPPED'));

/** A `timeoutMs` passed. For a proposal the outcome is unknown, as with LeadershipLostError. */
export class TimeoutError extends RaftError {
  declare readonly code: 'TIMEOUT';

  constructor(message = 'The operation timed out') {
    super('TIMEOUT', message);
  }

  static override isInstance(value: unknown): value is TimeoutError {
    return hasBrand(value, brandOf('TIMEOUT'));
  }
}
brand(TimeoutError, 'TimeoutError', brandOf('TIMEOUT'));

/** Bytes that are not a valid encoded message; `reason` says what was wrong. */
export class DecodeError extends RaftError {
  declare readonly code: 'DECODE';
  readonly reason: string;

  constructor(reason: string, options?: { cause?: unknown }) {
    super('DECODE', `Cannot decode message: ${reason}`, options);
    this.reason = reason;
  }

  static override isInstance(value: unknown): value is DecodeError {
    return hasBrand(value, brandOf('DECODE'));
  }
}
brand(DecodeError, 'DecodeError', brandOf('DECODE'));

/** Storage failed or was misused. The node stops rather than run on half-written state. */
export class StorageError extends RaftError {
  declare readonly code: 'STORAGE' | 'CORRUPTION';

  constructor(message: string, options?: { cause?: unknown });
  /** For subclasses: a more specific code. */
  constructor(message: string, options: { cause?: unknown } | undefined, code: 'CORRUPTION');
  constructor(message: string, options?: { cause?: unknown }, code: 'STORAGE' | 'CORRUPTION' = 'STORAGE') {
    super(code, message, options);
  }

  /** Also true for a CorruptionError, which is a kind of StorageError. */
  static override isInstance(value: unknown): value is StorageError {
    return hasBrand(value, brandOf('STORAGE'));
  }
}
brand(StorageError, 'StorageError', brandOf('STORAGE'));

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

  static override isInstance(value: unknown): value is CorruptionError {
    return hasBrand(value, brandOf('CORRUPTION'));
  }
}
brand(CorruptionError, 'CorruptionError', brandOf('CORRUPTION'));

/** The transport could not start (for example, its port is taken); `cause` holds the transport's own error. */
export class TransportError extends RaftError {
  declare readonly code: 'TRANSPORT';

  constructor(message: string, options?: { cause?: unknown }) {
    super('TRANSPORT', message, options);
  }

  static override isInstance(value: unknown): value is TransportError {
    return hasBrand(value, brandOf('TRANSPORT'));
  }
}
brand(TransportError, 'TransportError', brandOf('TRANSPORT'));

/**
 * The platform's AbortError, as `fetch` and timers/promises reject with. An
 * abort reason that is an Error or a string becomes the message and the
 * `cause`, so the user's reason is not lost.
 */
export function abortError(reason?: unknown): DOMException {
  if (reason instanceof DOMException && reason.name === 'AbortError') return reason;
  const message =
    typeof reason === 'string'
      ? reason
      : reason instanceof Error
        ? reason.message
        : 'The operation was aborted';
  return reason === undefined
    ? new DOMException(message, 'AbortError')
    : new DOMException(message, { name: 'AbortError', cause: reason });
}

/** Throws the platform AbortError when `signal` is already aborted. */
export function throwIfAborted(signal?: AbortSignal): void {
  if (signal?.aborted) throw abortError(signal.reason);
}
