import { describe, expect, expectTypeOf, it } from 'vitest';
import {
  ConfigError,
  CorruptionError,
  DecodeError,
  LeadershipLostError,
  NotLeaderError,
  RaftError,
  StorageError,
  StoppedError,
  TimeoutError,
  TransportError,
  abortError,
  throwIfAborted,
} from '../src/errors.js';

const everyError = () =>
  [
    [new ConfigError([{ path: 'id', message: 'is required' }]), 'ConfigError', 'CONFIG'],
    [new NotLeaderError('b'), 'NotLeaderError', 'NOT_LEADER'],
    [new LeadershipLostError(), 'LeadershipLostError', 'LEADERSHIP_LOST'],
    [new StoppedError(), 'StoppedError', 'STOPPED'],
    [new TimeoutError(), 'TimeoutError', 'TIMEOUT'],
    [new DecodeError('truncated'), 'DecodeError', 'DECODE'],
    [new StorageError('disk full'), 'StorageError', 'STORAGE'],
    [new CorruptionError('bad crc'), 'CorruptionError', 'CORRUPTION'],
    [new TransportError('port taken'), 'TransportError', 'TRANSPORT'],
  ] as const;

describe('error classes', () => {
  it.each(everyError())('%s has its name and code, and is a RaftError and an Error', (error, name, code) => {
    expect(error.name).toBe(name);
    expect(error.code).toBe(code);
    expect(error).toBeInstanceOf(Error);
    expect(error).toBeInstanceOf(RaftError);
    expect(RaftError.isInstance(error)).toBe(true);
    expect(String(error)).toMatch(new RegExp(`^${name}: `));
    expect(error.stack).toMatch(new RegExp(`^${name}: `));
  });

  const classes = [
    ConfigError,
    NotLeaderError,
    LeadershipLostError,
    StoppedError,
    TimeoutError,
    DecodeError,
    StorageError,
    CorruptionError,
    TransportError,
  ];
  /** The class relation, written out rather than asked of instanceof (which is under test). */
  const isA = (error: RaftError, cls: (typeof classes)[number]) =>
    error.constructor === cls || (cls === StorageError && error.constructor === CorruptionError);
  /** `cls.isInstance(value)` for a class from the list (a union of classes gives TypeScript no one `this` to infer). */
  const isInstance = (cls: (typeof classes)[number], value: unknown): boolean =>
    (cls as unknown as typeof RaftError).isInstance(value);

  it('each isInstance and instanceof accept only their own class (and its subclasses)', () => {
    for (const [error] of everyError()) {
      for (const cls of classes) {
        expect(isInstance(cls, error), `${cls.name}.isInstance(${error.name})`).toBe(isA(error, cls));
        expect(error instanceof cls, `${error.name} instanceof ${cls.name}`).toBe(isA(error, cls));
      }
    }
  });

  it("a user's subclass of an error class is told apart by instanceof and isInstance", () => {
    class DiskQuotaError extends StorageError {}
    const quota = new DiskQuotaError('quota');
    expect(quota instanceof DiskQuotaError).toBe(true);
    expect(quota instanceof StorageError).toBe(true);
    expect(quota instanceof RaftError).toBe(true);
    expect(quota instanceof Error).toBe(true);
    expect(quota instanceof CorruptionError).toBe(false);
    expect(new StorageError('plain') instanceof DiskQuotaError).toBe(false);
    expect(DiskQuotaError.isInstance(new StorageError('plain'))).toBe(false);
    expect(DiskQuotaError.isInstance(quota)).toBe(true);
  });

  it('instanceof and isInstance narrow a caught value to the class, so its fields can be read', () => {
    // The expectTypeOf lines are checked by the typecheck (tsc), the expects at run time.
    const caught: unknown = new CorruptionError('bad crc', { file: 'f.wal' });
    if (!(caught instanceof CorruptionError)) throw new Error('expected a CorruptionError');
    expectTypeOf(caught).toEqualTypeOf<CorruptionError>();
    expect(caught.file).toBe('f.wal');
    const other: unknown = new NotLeaderError('c');
    if (!NotLeaderError.isInstance(other)) throw new Error('expected a NotLeaderError');
    expectTypeOf(other).toEqualTypeOf<NotLeaderError>();
    expectTypeOf(other.code).toEqualTypeOf<'NOT_LEADER'>();
    expect(other.leaderId).toBe('c');
  });

  it('CorruptionError is a StorageError is a RaftError', () => {
    const error = new CorruptionError('bad crc', { file: '000001.wal', offset: 4096 });
    expect(error).toBeInstanceOf(StorageError);
    expect(StorageError.isInstance(error)).toBe(true);
    expect(CorruptionError.isInstance(error)).toBe(true);
    expect(RaftError.isInstance(error)).toBe(true);
    expect(CorruptionError.isInstance(new StorageError('x'))).toBe(false);
    expect(error.file).toBe('000001.wal');
    expect(error.offset).toBe(4096);
    expect(error.message).toContain('000001.wal');
    expect(error.message).toContain('4096');
  });

  it('isInstance works detached from its class, as a callback or destructured', () => {
    const errors: unknown[] = [new Error('plain'), new StoppedError()];
    expect(errors.some(NotLeaderError.isInstance)).toBe(false);
    expect(errors.some(StoppedError.isInstance)).toBe(true);
    expect(errors.filter(RaftError.isInstance)).toHaveLength(1);
    const isStorageError: (value: unknown) => boolean = StorageError.isInstance;
    expect(isStorageError(new CorruptionError('bad crc'))).toBe(true);
    expect(isStorageError(new StoppedError())).toBe(false);
  });

  it('isInstance and instanceof reject plain errors and non-objects', () => {
    for (const value of [new Error('x'), null, undefined, 'CONFIG', 42, { code: 'CONFIG' }]) {
      expect(RaftError.isInstance(value)).toBe(false);
      expect(ConfigError.isInstance(value)).toBe(false);
      expect(value instanceof RaftError).toBe(false);
      expect(value instanceof ConfigError).toBe(false);
    }
  });

  it('isInstance and instanceof recognise an error made by a structurally separate copy carrying the same brands', () => {
    // What a second copy of the package (CJS next to ESM) would make: a
    // different class object, but the same Symbol.for keys.
    class OtherCopyStorageError extends Error {
      readonly code = 'STORAGE';
    }
    Object.defineProperty(OtherCopyStorageError.prototype, Symbol.for('bellwether.error'), { value: true });
    Object.defineProperty(OtherCopyStorageError.prototype, Symbol.for('bellwether.error.STORAGE'), { value: true });
    const foreign = new OtherCopyStorageError('from the other copy');

    expect(StorageError.isInstance(foreign)).toBe(true);
    expect(RaftError.isInstance(foreign)).toBe(true);
    expect(CorruptionError.isInstance(foreign)).toBe(false);
    expect(ConfigError.isInstance(foreign)).toBe(false);
    expect(foreign instanceof StorageError).toBe(true);
    expect(foreign instanceof RaftError).toBe(true);
    expect(foreign instanceof CorruptionError).toBe(false);
    expect(foreign instanceof ConfigError).toBe(false);
  });

  it('isInstance and instanceof work across a second, separately loaded copy of the module, for every class', async () => {
    // The query string makes the module loader evaluate errors.ts a second time.
    const specifier: string = '../src/errors.js?second-copy';
    const copy = (await import(/* @vite-ignore */ specifier)) as typeof import('../src/errors.js');
    expect(copy.NotLeaderError).not.toBe(NotLeaderError);

    const copies = Object.fromEntries(classes.map((cls) => [cls.name, copy[cls.name as keyof typeof copy]]));
    for (const [local] of everyError()) {
      const Foreign = copies[local.name] as new (arg: string) => RaftError;
      const foreign = new Foreign('b');
      expect(foreign.constructor).not.toBe(local.constructor);
      expect(foreign instanceof Error, `${local.name} from the copy instanceof Error`).toBe(true);
      expect(foreign instanceof RaftError, `${local.name} from the copy instanceof RaftError`).toBe(true);
      expect(local instanceof copy.RaftError, `${local.name} instanceof the copy's RaftError`).toBe(true);
      for (const cls of classes) {
        const expected = isA(local, cls);
        expect(foreign instanceof cls, `${local.name} from the copy instanceof ${cls.name}`).toBe(expected);
        expect(isInstance(cls, foreign), `${cls.name}.isInstance(${local.name} from the copy)`).toBe(expected);
        const CopyClass = copies[cls.name] as typeof cls;
        expect(local instanceof CopyClass, `${local.name} instanceof the copy's ${cls.name}`).toBe(expected);
      }
    }
  });
});

describe('error payloads', () => {
  it('ConfigError lists every issue in its message and keeps them in issues', () => {
    const issues = [
      { path: 'id', message: 'must be a non-empty string' },
      { path: 'electionTimeoutMs.min', message: 'must be less than electionTimeoutMs.max' },
      { path: '', message: 'unexpected' },
    ];
    const error = new ConfigError(issues);
    expect(error.issues).toEqual(issues);
    expect(error.message).toContain('3 problems');
    expect(error.message).toContain('id: must be a non-empty string');
    expect(error.message).toContain('electionTimeoutMs.min: must be less than electionTimeoutMs.max');
    expect(error.message).toContain('unexpected');
    expect(Object.isFrozen(error.issues)).toBe(true);
  });

  it('ConfigError copies the issues it is given, so later edits to the input do not leak in', () => {
    const issues = [{ path: 'peers', message: 'must include id' }];
    const error = new ConfigError(issues);
    issues[0].message = 'changed';
    issues.push({ path: 'x', message: 'y' });
    expect(error.issues).toEqual([{ path: 'peers', message: 'must include id' }]);
  });

  it('ConfigError from a string is one issue about the whole input', () => {
    const error = new ConfigError('node "d" is already a voter');
    expect(error.issues).toEqual([{ path: '', message: 'node "d" is already a voter' }]);
    expect(error.message).toContain('node "d" is already a voter');
  });

  it('NotLeaderError carries the leader hint, or null when none is known', () => {
    expect(new NotLeaderError('c').leaderId).toBe('c');
    expect(new NotLeaderError('c').message).toContain('"c"');
    expect(new NotLeaderError(null).leaderId).toBeNull();
    expect(new NotLeaderError(null).message).toMatch(/no leader is known/);
  });

  it('DecodeError keeps its reason and StorageError its cause', () => {
    expect(new DecodeError('unknown type 99').reason).toBe('unknown type 99');
    expect(new DecodeError('unknown type 99').message).toContain('unknown type 99');
    const cause = new Error('EIO');
    expect(new StorageError('write failed', { cause }).cause).toBe(cause);
    expect(new CorruptionError('bad crc', { cause }).cause).toBe(cause);
  });
});

describe('aborts', () => {
  it('abortError makes the platform AbortError', () => {
    const error = abortError();
    expect(error).toBeInstanceOf(DOMException);
    expect(error.name).toBe('AbortError');
    expect(error.message).toBe('The operation was aborted');
  });

  it('abortError keeps a user reason as message and cause', () => {
    const reason = new Error('user gave up');
    const error = abortError(reason);
    expect(error.name).toBe('AbortError');
    expect(error.message).toBe('user gave up');
    expect(error.cause).toBe(reason);
    expect(abortError('bored').message).toBe('bored');
  });

  it('abortError passes a platform AbortError through unchanged', () => {
    const platform = AbortSignal.abort().reason as DOMException;
    expect(abortError(platform)).toBe(platform);
  });

  it('throwIfAborted throws AbortError only for an aborted signal', () => {
    expect(() => throwIfAborted()).not.toThrow();
    expect(() => throwIfAborted(new AbortController().signal)).not.toThrow();
    const controller = new AbortController();
    controller.abort(new Error('stop'));
    expect(() => throwIfAborted(controller.signal)).toThrow(
      expect.objectContaining({ name: 'AbortError', message: 'stop' }),
    );
    expect(() => throwIfAborted(AbortSignal.abort())).toThrow(expect.objectContaining({ name: 'AbortError' }));
  });
});
