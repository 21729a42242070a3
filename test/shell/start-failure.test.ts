import { describe, expect, it } from 'vitest';
import { ConfigError, CorruptionError, StoppedError, StorageError, TransportError } from '../../src/errors.js';
import type { Entry, HardState, RaftMessage } from '../../src/messages.js';
import { RaftNode } from '../../src/node.js';
import type { RaftNodeOptions } from '../../src/options.js';
import type { Clock } from '../../src/shell/clock.js';
import { MemoryStorage } from '../../src/storage/memory.js';
import type { PersistedState, Storage } from '../../src/storage/storage.js';
import { MemoryNetwork } from '../../src/testing/memory-network.js';
import type { MessageHandler, Transport } from '../../src/transport/transport.js';
import { VirtualTime } from '../helpers/virtual-time.js';

/** A MemoryStorage that counts open and close, and can fail or alter its next open. */
class ProbedStorage implements Storage {
  readonly inner = new MemoryStorage();
  opens = 0;
  closes = 0;
  /** True between an open that succeeded and the close after it. */
  held = false;
  /** The next open rejects with this, once. */
  failOpen: Error | null = null;
  /** The next open returns what this makes of the stored state, once. */
  alterOpen: ((state: PersistedState) => PersistedState) | null = null;

  async open(): Promise<PersistedState> {
    this.opens++;
    const fault = this.failOpen;
    this.failOpen = null;
    if (fault !== null) throw fault;
    const state = await this.inner.open();
    this.held = true;
    const alter = this.alterOpen;
    this.alterOpen = null;
    return alter === null ? state : alter(state);
  }

  save(hardState: HardState | null, entries: readonly Entry[]): void {
    this.inner.save(hardState, entries);
  }

  async close(): Promise<void> {
    this.closes++;
    this.held = false;
    await this.inner.close();
  }
}

/** A MemoryNetwork transport that counts start and stop, and can fail its next start. */
class ProbedTransport implements Transport {
  starts = 0;
  stops = 0;
  failStart: Error | null = null;

  constructor(private readonly inner: Transport) {}

  start(onMessage: MessageHandler): void {
    this.starts++;
    const fault = this.failStart;
    this.failStart = null;
    if (fault !== null) throw fault;
    this.inner.start(onMessage);
  }

  send(message: RaftMessage): void {
    this.inner.send(message);
  }

  stop(): void {
    this.stops++;
    this.inner.stop();
  }
}

interface Rig {
  readonly time: VirtualTime;
  readonly storage: ProbedStorage;
  readonly transport: ProbedTransport;
  node(extra?: Partial<RaftNodeOptions>): RaftNode;
}

function rig(): Rig {
  const time = new VirtualTime();
  const net = new MemoryNetwork();
  const storage = new ProbedStorage();
  const transport = new ProbedTransport(net.transport('solo'));
  const node = (extra: Partial<RaftNodeOptions> = {}): RaftNode =>
    new RaftNode({ id: 'solo', peers: ['solo'], transport, storage, clock: time.clock(), seed: 1, ...extra });
  return { time, storage, transport, node };
}

async function startError(node: RaftNode): Promise<unknown> {
  return node.start().then(
    () => expect.unreachable('start() should have rejected'),
    (e: unknown) => e,
  );
}

/** The node is stopped for good, holds no timer, and a new node on the same storage and transport starts and leads. */
async function expectCleanlyStopped(r: Rig, failed: RaftNode): Promise<void> {
  expect(StoppedError.isInstance(await failed.start().catch((e: unknown) => e))).toBe(true);
  await failed.stop();
  expect(r.time.queue.nextTime()).toBeNull();
  expect(r.storage.held).toBe(false);
  const again = r.node();
  await again.start();
  await r.time.advance(400);
  expect(again.isLeader()).toBe(true);
  await again.stop();
}

const entry = (index: number, term = 1): Entry => ({ index, term, type: 'normal', data: new Uint8Array([index]) });

/** The error a test planted, to find it again as the rejection or its cause. */
let planted: Error | null = null;
const plant = <E extends Error>(fault: E): E => (planted = fault);

/** A clock whose `every` throws (a planted error): the node cannot schedule its ticks. */
function clockWithoutTimers(r: Rig): Clock {
  const real = r.time.clock();
  return {
    now: () => real.now(),
    after: (ms, callback) => real.after(ms, callback),
    every: () => {
      throw plant(new Error('no timers here'));
    },
  };
}

interface FailurePoint {
  /** Plants the fault, in the rig or as options for the failing node (the next node gets neither). */
  plant(r: Rig): Partial<RaftNodeOptions> | void;
  /** `start()` rejects with this class of error... */
  type: { isInstance(value: unknown): boolean };
  /** ...whose cause is the planted error, or which is the planted error itself when it is a RaftError. */
  planted: 'cause' | 'itself' | 'core';
  /** What was started and stopped or closed by the time start() rejected. */
  after: { transportStarts: number; transportStops: number; storageCloses: number };
}

type Planted = FailurePoint['planted'];
type ErrorClass = FailurePoint['type'];
const counts = (transportStarts: number, transportStops: number, storageCloses: number): FailurePoint['after'] => ({
  transportStarts,
  transportStops,
  storageCloses,
});

/** storage.open fails: nothing was opened, so nothing is closed, and the transport is never started. */
const openFails = (fault: Error, type: ErrorClass, planted: Planted): FailurePoint => ({
  plant: (r) => void (r.storage.failOpen = plant(fault)),
  type,
  planted,
  after: counts(0, 0, 0),
});

/** transport.start fails: the opened storage is closed; the transport cleans up after its own failed start. */
const transportFails = (fault: Error, type: ErrorClass, planted: Planted): FailurePoint => ({
  plant: (r) => void (r.transport.failStart = plant(fault)),
  type,
  planted,
  after: counts(1, 0, 1),
});

const failurePoints: [string, FailurePoint][] = [
  [
    'storage.open rejects: StorageError with the cause; a storage that failed to open is not closed (it holds nothing)',
    openFails(new Error('EACCES: permission denied'), StorageError, 'cause'),
  ],
  [
    'storage.open rejects with a RaftError: that very error',
    openFails(new CorruptionError('bad CRC', { file: '0001.wal', offset: 64 }), CorruptionError, 'itself'),
  ],
  [
    'storage returns a log the core refuses (a gap): StorageError caused by the core; storage closed',
    {
      plant: (r) => {
        const gap = { hardState: { term: 1, vote: 'solo', commit: 0 }, entries: [entry(1), entry(3)] };
        r.storage.alterOpen = (state) => ({ ...state, ...gap });
      },
      type: StorageError,
      planted: 'core',
      after: counts(0, 0, 1),
    },
  ],
  [
    "the state machine's restore() throws on the stored snapshot: StorageError with the cause, rather than applying the log after it to a state without it; storage closed",
    {
      plant: (r) => {
        const snapshot = { index: 5, term: 1, voters: ['solo'], learners: [], data: new Uint8Array([1]) };
        r.storage.alterOpen = (state) => ({ ...state, snapshot, entries: [] });
        const restore = (): void => {
          throw plant(new Error('not a snapshot of mine'));
        };
        return { stateMachine: { apply: () => undefined, snapshot: () => new Uint8Array(0), restore } };
      },
      type: StorageError,
      planted: 'cause',
      after: counts(0, 0, 1),
    },
  ],
  [
    'transport.start throws: TransportError with the cause; storage closed',
    transportFails(new Error('EADDRINUSE'), TransportError, 'cause'),
  ],
  [
    'transport.start throws a RaftError: that very error; storage closed',
    transportFails(new TransportError('refused by the peer'), TransportError, 'itself'),
  ],
  [
    'the clock cannot schedule the ticks: ConfigError; the started transport is stopped and storage closed',
    { plant: (r) => ({ clock: clockWithoutTimers(r) }), type: ConfigError, planted: 'cause', after: counts(1, 1, 1) },
  ],
];

describe('RaftNode.start failure', () => {
  it.each(failurePoints)(
    '%s; the node ends stopped and a new node on the same storage starts',
    async (_name, point) => {
      planted = null;
      const r = rig();
      const failing = r.node(point.plant(r) ?? {});
      const error = await startError(failing);
      expect(point.type.isInstance(error)).toBe(true);
      if (point.planted === 'itself') expect(error).toBe(planted);
      else if (point.planted === 'cause') expect((error as Error).cause).toBe(planted);
      // The core's own error about the log it was given.
      else expect((error as Error).cause).toBeInstanceOf(Error);
      expect({
        transportStarts: r.transport.starts,
        transportStops: r.transport.stops,
        storageCloses: r.storage.closes,
      }).toEqual(point.after);
      await expectCleanlyStopped(r, failing);
    },
  );

  it('the clock failure names the option: ConfigError with path `clock`', async () => {
    const r = rig();
    const error = await startError(r.node({ clock: clockWithoutTimers(r) }));
    expect((error as ConfigError).issues.map((i) => i.path)).toEqual(['clock']);
  });

  it('a node refused because another live node holds the storage leaves that node holding it', async () => {
    const r = rig();
    const live = r.node();
    await live.start();
    const idle: Transport = { start() {}, send() {}, stop() {} };
    const second = new RaftNode({
      id: 'solo',
      peers: ['solo'],
      transport: idle,
      storage: r.storage,
      clock: r.time.clock(),
    });
    expect(StorageError.isInstance(await startError(second))).toBe(true);
    // Had the refused node closed the storage, a third one could now open it beside the live one.
    const third = new RaftNode({
      id: 'solo',
      peers: ['solo'],
      transport: idle,
      storage: r.storage,
      clock: r.time.clock(),
    });
    expect(StorageError.isInstance(await startError(third))).toBe(true);
    await live.stop();
  });
});
