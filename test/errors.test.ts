import { describe, expect, it } from 'vitest';
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

  it('each isInstance accepts only its own class (and subclasses)', () => {
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
    for (const [error] of everyError()) {
      for (const cls of classes) {
        expect(cls.isInstance(error), `${cls.name}.isInstance(${error.name})`).toBe(error instanceof cls);
      }
    }
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

  it('isInstance rejects plain errors and non-objects', () => {
    for (const value of [new Error('x'), null, undefined, 'CONFIG', 42, { code: 'CONFIG' }]) {
      expect(RaftError.isInstance(value)).toBe(false);
      expect(ConfigError.isInstance(value)).toBe(false);
    }
  });

  it('isInstance recognises an error made by a structurally separate copy carrying the same brands', () => {
    // What a second copy of the package (CJS next to ESM) would make: a
    // different class object, so instanceof fails, but the same Symbol.for keys.
    class OtherCopyStorageError extends Error {
      readonly code = 'STORAGE';
    }
    Object.defineProperty(OtherCopyStorageError.prototype, Symbol.for('bellwether.error'), { value: true });
    Object.defineProperty(OtherCopyStorageError.prototype, Symbol.for('bellwether.error.STORAGE'), { value: true });
    const foreign = new OtherCopyStorageError('from the other copy');

    expect(foreign instanceof StorageError).toBe(false);
    expect(StorageError.isInstance(foreign)).toBe(true);
    expect(RaftError.isInstance(foreign)).toBe(true);
    expect(CorruptionError.isInstance(foreign)).toBe(false);
    expect(ConfigError.isInstance(foreign)).toBe(false);
  });

  it('isInstance works across a second, separately loaded copy of the module', async () => {
    // The query string makes the module loader evaluate errors.ts a second time.
    const specifier: string = '../src/errors.js?second-copy';
    const copy = (await import(/* @vite-ignore */ specifier)) as typeof import('../src/errors.js');
    expect(copy.NotLeaderError).not.toBe(NotLeaderError);

    const fromCopy = new copy.NotLeaderError(null);
    expect(fromCopy instanceof NotLeaderError).toBe(false);
    expect(NotLeaderError.isInstance(fromCopy)).toBe(true);
    expect(RaftError.isInstance(fromCopy)).toBe(true);
    expect(copy.NotLeaderError.isInstance(new NotLeaderError('a'))).toBe(true);
    expect(copy.StorageError.isInstance(new CorruptionError('x'))).toBe(true);
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
    expect(() => throwIfAborted(controller.signal)).toThrow(expect.objectContaining({ name: 'AbortError', message: 'stop' }));
    expect(() => throwIfAborted(AbortSignal.abort())).toThrow(expect.objectContaining({ name: 'AbortError' }));
  });
});
