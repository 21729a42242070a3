import { describe, expect, it } from 'vitest';
import { ConfigError, type ConfigIssue } from '../src/errors.js';
import { type RaftNodeOptions, parseNodeOptions, silentLogger } from '../src/options.js';
import { systemClock } from '../src/shell/clock.js';
import { parseTcpOptions } from '../src/transport/tcp/options.js';
import { MemoryStorage } from '../src/storage/memory.js';
import type { Transport } from '../src/transport/transport.js';

class StubTransport implements Transport {
  start(): void {}
  send(): void {}
  stop(): void {}
}

function base(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return { id: 'a', peers: ['a', 'b', 'c'], transport: new StubTransport(), ...overrides };
}

/** The issues of the ConfigError that `parse` (RaftNode's parser unless given) throws for `input`. */
function issuesOf(input: unknown, parse: (input: unknown) => unknown = parseNodeOptions): ConfigIssue[] {
  try {
    parse(input);
  } catch (error) {
    expect(ConfigError.isInstance(error)).toBe(true);
    return [...(error as ConfigError).issues];
  }
  throw new Error(`expected ${parse.name} to throw`);
}

function pathsOf(input: unknown): string[] {
  return issuesOf(input).map((issue) => issue.path);
}

describe('parseNodeOptions defaults', () => {
  it('fills in every default for the minimal options', () => {
    const options = parseNodeOptions(base());
    expect(options).toMatchObject({
      id: 'a',
      peers: ['a', 'b', 'c'],
      stateMachine: undefined,
      electionTimeoutMs: { min: 150, max: 300 },
      heartbeatIntervalMs: 50,
      preVote: true,
      checkQuorum: true,
      maxInflightMessages: 64,
      maxEntriesPerAppend: 4096,
      maxBytesPerAppend: 1024 * 1024,
      maxProposalBatch: 4096,
      snapshots: { threshold: 8192, trailing: 1024, chunkBytes: 1024 * 1024 },
    });
    expect(options.storage).toBeInstanceOf(MemoryStorage);
    expect(options.logger).toBe(silentLogger);
    expect(options.clock).toBe(systemClock);
    expect(Number.isSafeInteger(options.seed)).toBe(true);
  });

  it('gives each node its own default MemoryStorage', () => {
    expect(parseNodeOptions(base()).storage).not.toBe(parseNodeOptions(base()).storage);
  });

  it('passes user objects through by reference, prototype methods and all', () => {
    const transport = new StubTransport();
    const storage = new MemoryStorage();
    const stateMachine = { apply: () => 1 };
    const logger = { debug() {}, info() {}, warn() {}, error() {} };
    const clock = { now: () => 0, every: () => () => {}, after: () => () => {} };
    const options = parseNodeOptions(base({ transport, storage, stateMachine, logger, clock }));
    expect(options.transport).toBe(transport);
    expect(options.storage).toBe(storage);
    expect(options.stateMachine).toBe(stateMachine);
    expect(options.logger).toBe(logger);
    expect(options.clock).toBe(clock);
  });

  it('keeps every valid value given', () => {
    const input: RaftNodeOptions = {
      id: 'n1',
      peers: ['n1'],
      transport: new StubTransport(),
      electionTimeoutMs: { min: 1000, max: 2000 },
      heartbeatIntervalMs: 100,
      preVote: false,
      checkQuorum: false,
      seed: -7,
      maxInflightMessages: 1,
      maxEntriesPerAppend: 1,
      maxBytesPerAppend: 1024,
      maxProposalBatch: 1,
    };
    expect(parseNodeOptions(input)).toMatchObject({ ...input, stateMachine: undefined });
  });

  it("returns frozen options that do not share the caller's arrays", () => {
    const peers = ['a', 'b'];
    const options = parseNodeOptions(base({ peers }));
    peers.push('z');
    expect(options.peers).toEqual(['a', 'b']);
    expect(Object.isFrozen(options)).toBe(true);
    expect(Object.isFrozen(options.peers)).toBe(true);
    expect(Object.isFrozen(options.electionTimeoutMs)).toBe(true);
  });

  it('fills in the snapshot settings left out, keeps false, and freezes them', () => {
    const options = parseNodeOptions(base({ snapshots: { threshold: 10 } }));
    expect(options.snapshots).toEqual({ threshold: 10, trailing: 1024, chunkBytes: 1024 * 1024 });
    expect(Object.isFrozen(options.snapshots)).toBe(true);
    expect(parseNodeOptions(base({ snapshots: { threshold: 1, trailing: 0, chunkBytes: 1 } })).snapshots).toEqual({
      threshold: 1,
      trailing: 0,
      chunkBytes: 1,
    });
    expect(parseNodeOptions(base({ snapshots: false })).snapshots).toBe(false);
  });

  it('accepts a state machine with snapshot and restore', () => {
    const stateMachine = { apply() {}, snapshot: () => new Uint8Array(), restore() {} };
    expect(parseNodeOptions(base({ stateMachine })).stateMachine).toBe(stateMachine);
  });
});

describe('parseNodeOptions rules', () => {
  it.each([
    ['id missing', { id: undefined }, 'id'],
    ['id empty', { id: '' }, 'id'],
    ['id not a string', { id: 7 }, 'id'],
    ['peers missing', { peers: undefined }, 'peers'],
    ['peers not an array', { peers: 'a,b' }, 'peers'],
    ['peers empty', { id: 'a', peers: [] }, 'peers'],
    ['a peer empty', { peers: ['a', ''] }, 'peers.1'],
    ['a peer not a string', { peers: ['a', 2] }, 'peers.1'],
    ['transport missing', { transport: undefined }, 'transport'],
    ['transport not an object', { transport: 'tcp' }, 'transport'],
    ['transport without send', { transport: { start() {}, stop() {} } }, 'transport.send'],
    ['storage not an object', { storage: 'memory' }, 'storage'],
    ['storage without save', { storage: { open() {}, close() {} } }, 'storage.save'],
    ['stateMachine without apply', { stateMachine: {} }, 'stateMachine.apply'],
    ['stateMachine.restore not a function', { stateMachine: { apply() {}, restore: true } }, 'stateMachine.restore'],
    ['electionTimeoutMs not an object', { electionTimeoutMs: 150 }, 'electionTimeoutMs'],
    ['electionTimeoutMs.min zero', { electionTimeoutMs: { min: 0, max: 300 } }, 'electionTimeoutMs.min'],
    ['electionTimeoutMs.max fractional', { electionTimeoutMs: { min: 150, max: 300.5 } }, 'electionTimeoutMs.max'],
    ['electionTimeoutMs.max missing', { electionTimeoutMs: { min: 150 } }, 'electionTimeoutMs.max'],
    ['electionTimeoutMs.min not below max', { electionTimeoutMs: { min: 300, max: 300 } }, 'electionTimeoutMs.min'],
    [
      'electionTimeoutMs with an unknown key',
      { electionTimeoutMs: { min: 150, max: 300, jitter: 5 } },
      'electionTimeoutMs.jitter',
    ],
    ['heartbeatIntervalMs zero', { heartbeatIntervalMs: 0 }, 'heartbeatIntervalMs'],
    ['heartbeatIntervalMs not a number', { heartbeatIntervalMs: '50' }, 'heartbeatIntervalMs'],
    ['heartbeatIntervalMs infinite', { heartbeatIntervalMs: Number.POSITIVE_INFINITY }, 'heartbeatIntervalMs'],
    ['preVote not a boolean', { preVote: 'yes' }, 'preVote'],
    ['checkQuorum not a boolean', { checkQuorum: 1 }, 'checkQuorum'],
    ['logger without warn', { logger: { debug() {}, info() {}, error() {} } }, 'logger.warn'],
    ['clock without after', { clock: { now() {}, every() {} } }, 'clock.after'],
    ['seed fractional', { seed: 0.5 }, 'seed'],
    ['maxInflightMessages zero', { maxInflightMessages: 0 }, 'maxInflightMessages'],
    ['maxEntriesPerAppend negative', { maxEntriesPerAppend: -1 }, 'maxEntriesPerAppend'],
    ['maxBytesPerAppend below 1024', { maxBytesPerAppend: 1023 }, 'maxBytesPerAppend'],
    ['maxProposalBatch fractional', { maxProposalBatch: 2.5 }, 'maxProposalBatch'],
    ['snapshots true', { snapshots: true }, 'snapshots'],
    ['snapshots null', { snapshots: null }, 'snapshots'],
    ['snapshots.threshold zero', { snapshots: { threshold: 0 } }, 'snapshots.threshold'],
    ['snapshots.trailing negative', { snapshots: { trailing: -1 } }, 'snapshots.trailing'],
    ['snapshots.chunkBytes fractional', { snapshots: { chunkBytes: 0.5 } }, 'snapshots.chunkBytes'],
    ['snapshots with an unknown key', { snapshots: { interval: 5 } }, 'snapshots.interval'],
    [
      'a state machine with snapshot but no restore',
      { stateMachine: { apply() {}, snapshot: () => new Uint8Array() } },
      'stateMachine.restore',
    ],
    ['an unknown option', { electionTimeout: 200 }, 'electionTimeout'],
  ])('rejects %s, at its path', (_name, overrides, path) => {
    const issues = issuesOf(base(overrides));
    expect(issues.map((issue) => issue.path)).toEqual([path]);
    expect(issues[0].message.length).toBeGreaterThan(0);
  });

  it("rejects peers that do not include the node's own id", () => {
    expect(issuesOf(base({ id: 'a', peers: ['b', 'c'] }))).toEqual([
      { path: 'peers', message: 'must include this node\'s id ("a")' },
    ]);
  });

  it('rejects duplicate peers, naming the repeated position', () => {
    expect(issuesOf(base({ peers: ['a', 'b', 'a'] }))).toEqual([
      { path: 'peers.2', message: 'duplicates peers.0 ("a")' },
    ]);
  });

  it('rejects a heartbeat interval that is not below the election timeout minimum', () => {
    expect(pathsOf(base({ heartbeatIntervalMs: 150 }))).toEqual(['heartbeatIntervalMs']);
    expect(issuesOf(base({ electionTimeoutMs: { min: 40, max: 80 } }))).toEqual([
      {
        path: 'heartbeatIntervalMs',
        message: 'must be less than electionTimeoutMs.min (40), got 50 (the default)',
      },
    ]);
    expect(() => parseNodeOptions(base({ heartbeatIntervalMs: 149 }))).not.toThrow();
  });

  it('reports every bad snapshot setting at its own path, in words like the others', () => {
    expect(issuesOf(base({ snapshots: { threshold: 0, trailing: 1.5, chunkBytes: '1' } }))).toEqual([
      { path: 'snapshots.threshold', message: 'must be an integer >= 1, got 0' },
      { path: 'snapshots.trailing', message: 'must be an integer >= 0, got 1.5' },
      { path: 'snapshots.chunkBytes', message: 'must be an integer >= 1, got "1"' },
    ]);
    expect(issuesOf(base({ snapshots: 'on' }))).toEqual([
      { path: 'snapshots', message: 'must be an object { threshold, trailing, chunkBytes } or false, got "on"' },
    ]);
  });

  it('says what it got for a wrong type, and "is required" for a missing field', () => {
    expect(issuesOf(base({ heartbeatIntervalMs: '50' }))[0].message).toBe('must be an integer >= 1, got "50"');
    expect(issuesOf(base({ id: undefined }))[0].message).toBe('is required');
    expect(issuesOf(base({ transport: undefined }))[0].message).toBe('is required');
  });

  it.each([
    ['a string', 'a', 'got "a"'],
    ['null', null, 'got null'],
    ['undefined', undefined, 'got undefined'],
    ['an array', [], 'got an array'],
    ['a number', 3, 'got 3'],
  ])('rejects %s instead of an options object, as one issue at the root', (_name, input, got) => {
    const issues = issuesOf(input);
    expect(issues).toHaveLength(1);
    expect(issues[0].path).toBe('');
    expect(issues[0].message).toContain(got);
  });

  it('reports every problem at once, per-field and cross-field, in one ConfigError', () => {
    const input = {
      id: 'a',
      peers: ['b', 'b', 7],
      transport: { start() {} },
      electionTimeoutMs: { min: 20, max: 10 },
      preVote: 'yes',
      maxBytesPerAppend: 10,
      typo: true,
    };
    let thrown: unknown;
    try {
      parseNodeOptions(input);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(ConfigError);
    const error = thrown as ConfigError;
    expect(error.code).toBe('CONFIG');
    expect(error.issues.map((issue) => issue.path).sort()).toEqual(
      [
        'peers.2', // not a string
        'peers.1', // duplicate
        'peers', // does not include "a"
        'transport.send',
        'transport.stop',
        'electionTimeoutMs.min', // not below max
        'heartbeatIntervalMs', // default 50 not below min 20
        'preVote',
        'maxBytesPerAppend',
        'typo',
      ].sort(),
    );
    // The message lists every one of them.
    for (const issue of error.issues) expect(error.message).toContain(`${issue.path}: ${issue.message}`);
  });
});

describe('RaftNode and TcpTransport options share one validation', () => {
  /** The issues of the ConfigError that TcpTransport's parser throws for valid options changed by `overrides`. */
  const tcpIssuesOf = (overrides: Record<string, unknown>): ConfigIssue[] =>
    issuesOf(
      { id: 'a', listen: { host: '127.0.0.1', port: 0 }, peers: {}, clusterId: 'c', ...overrides },
      parseTcpOptions,
    );

  it("reports a logger that lacks a method the same way, at the method's path", () => {
    const logger = { debug() {}, info() {}, error() {} };
    const expected = [{ path: 'logger.warn', message: 'must be a function (a Logger method)' }];
    expect(issuesOf(base({ logger }))).toEqual(expected);
    expect(tcpIssuesOf({ logger })).toEqual(expected);
  });

  it('reports a logger that is not an object the same way', () => {
    const expected = [
      { path: 'logger', message: 'must be a Logger (an object with methods debug, info, warn, error), got "pino"' },
    ];
    expect(issuesOf(base({ logger: 'pino' }))).toEqual(expected);
    expect(tcpIssuesOf({ logger: 'pino' })).toEqual(expected);
  });

  it('reports an integer beyond 2^53 once, not once per bound', () => {
    expect(issuesOf(base({ maxBytesPerAppend: 2 ** 60 }))).toEqual([
      { path: 'maxBytesPerAppend', message: `must be an integer >= 1024, got ${2 ** 60}` },
    ]);
    expect(tcpIssuesOf({ maxQueueBytes: 2 ** 60 })).toEqual([
      { path: 'maxQueueBytes', message: `must be an integer >= 1024, got ${2 ** 60}` },
    ]);
  });

  it('describes a bigint given for a number as a bigint, in both', () => {
    expect(issuesOf(base({ seed: 5n }))).toEqual([{ path: 'seed', message: 'must be an integer, got 5n' }]);
    expect(tcpIssuesOf({ connectTimeoutMs: 5n })).toEqual([
      { path: 'connectTimeoutMs', message: 'must be an integer from 1 to 2147483647, got 5n' },
    ]);
  });

  it('rejects the same non-object input the same way', () => {
    const expected = [{ path: '', message: 'options must be an object, got an array' }];
    expect(issuesOf([])).toEqual(expected);
    expect(issuesOf([], parseTcpOptions)).toEqual(expected);
  });
});
