/**
 * The ReadyLoop's order and its synchronous/asynchronous paths, pinned on a
 * real core with a recording ReadyIO: no node, no timers. Each test names a
 * rule of the loop (persist before what depends on it, one Ready at a time,
 * nothing after close, one fatal per failure).
 */
import { describe, expect, it } from 'vitest';
import type { Raft } from '../../src/core/raft.js';
import type { Ready, SoftState } from '../../src/core/types.js';
import type { Entry, HardState, RaftMessage } from '../../src/messages.js';
import { ReadyLoop, type ReadyIO } from '../../src/shell/ready-loop.js';
import { bytes, heartbeat, newRaft } from '../core/harness.js';

interface Deferred {
  readonly promise: Promise<void>;
  resolve(): void;
  reject(error: unknown): void;
}

function deferred(): Deferred {
  let resolve!: () => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** A ReadyIO that records every call in order; persist and apply finish at once unless a test hands out deferreds. */
class RecordingIO implements ReadyIO {
  readonly log: string[] = [];
  readonly persists: { hardState: HardState | null; entries: readonly Entry[] }[] = [];
  readonly applied: Entry[][] = [];
  readonly reported: { softState: SoftState; committedUpTo: number }[] = [];
  readonly readStateReadies: Ready[] = [];
  readonly fatals: unknown[] = [];
  /** Each persist takes the next of these, or finishes synchronously when none is left. */
  persistWaits: Deferred[] = [];
  applyWaits: Deferred[] = [];
  /** Each pause between Readys takes the next of these, or ends at once when none is left. */
  betweenWaits: Deferred[] = [];
  persistThrows: unknown = undefined;

  send(m: RaftMessage): void {
    this.log.push(`send ${m.type}`);
  }
  persist(hardState: HardState | null, entries: readonly Entry[]): void | Promise<void> {
    if (this.persistThrows !== undefined) throw this.persistThrows;
    this.log.push('persist');
    this.persists.push({ hardState, entries });
    return this.persistWaits.shift()?.promise;
  }
  persisted(softState: SoftState, committedUpTo: number): void {
    this.log.push('persisted');
    this.reported.push({ softState, committedUpTo });
  }
  apply(entries: readonly Entry[]): void | Promise<void> {
    this.log.push(`apply ${entries.map((e) => e.index).join(',')}`);
    this.applied.push([...entries]);
    return this.applyWaits.shift()?.promise;
  }
  readStates(ready: Ready): void {
    this.log.push('readStates');
    this.readStateReadies.push(ready);
  }
  betweenReadys(): void | Promise<void> {
    this.log.push('between');
    return this.betweenWaits.shift()?.promise;
  }
  fatal(error: unknown): void {
    this.fatals.push(error);
  }
}

/** A one-voter core and its loop; the core elects itself at once on campaign(). */
function solo(io = new RecordingIO()): { core: Raft; io: RecordingIO; loop: ReadyLoop } {
  const core = newRaft('a', ['a']);
  return { core, io, loop: new ReadyLoop(core, io) };
}

/** A one-voter core that campaigned; the write of its term, vote and no-op is still pending. */
function campaignWithPendingWrite(): { core: Raft; io: RecordingIO; loop: ReadyLoop; write: Deferred } {
  const { core, io, loop } = solo();
  const write = deferred();
  io.persistWaits.push(write);
  core.campaign();
  loop.kick();
  return { core, io, loop, write };
}

/** Lets pending promise callbacks run. */
async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await Promise.resolve();
}

describe('ReadyLoop', () => {
  it('persists before it reports, then applies what the Ready commits, all synchronously with a synchronous IO', () => {
    const { core, io, loop } = solo();
    core.campaign();
    loop.kick();
    // Election: term and vote and the no-op are persisted; the no-op commits (one voter) and is applied.
    expect(io.log.slice(0, 2)).toEqual(['persist', 'persisted']);
    expect(io.applied.flat().map((e) => e.index)).toEqual([1]);
    expect(io.log.indexOf('persist')).toBeLessThan(io.log.indexOf('apply 1'));
    expect(core.hasReady()).toBe(false);
  });

  it('reports the last index each Ready commits, and 0 when it commits nothing', () => {
    const { core, io, loop } = solo();
    core.campaign();
    loop.kick();
    core.propose([bytes('x'), bytes('y')]);
    loop.kick();
    const withCommits = io.reported.filter((r) => r.committedUpTo > 0).map((r) => r.committedUpTo);
    expect(withCommits).toEqual([1, 3]);
    expect(io.reported[0].committedUpTo).toBe(0); // the election's own Ready commits nothing yet
  });

  it('never asks the IO to persist a Ready that carries neither hard state nor entries', () => {
    const core = newRaft('b', ['a', 'b', 'c']);
    const io = new RecordingIO();
    const loop = new ReadyLoop(core, io);
    core.step(heartbeat({ from: 'a', to: 'b', term: 1 }));
    loop.kick();
    const persistsAfterJoin = io.persists.length; // adopting term 1 is persisted once
    expect(persistsAfterJoin).toBe(1);
    // A second heartbeat in the same term changes nothing durable: only an answer goes out.
    core.step(heartbeat({ from: 'a', to: 'b', term: 1 }));
    loop.kick();
    expect(io.persists.length).toBe(persistsAfterJoin);
    expect(io.log.filter((l) => l === 'send HeartbeatResponse')).toHaveLength(2);
  });

  it('pauses between Readys after each one, and a pending pause holds the next Ready until it ends', async () => {
    const { core, io, loop } = solo();
    const pause = deferred();
    io.betweenWaits.push(pause);
    core.campaign();
    loop.kick();
    expect(io.log.filter((l) => l === 'between')).toHaveLength(1);
    const persistsBefore = io.persists.length;
    core.propose([bytes('x')]);
    loop.kick();
    // The proposal's Ready waits for the pause (where the shell takes a snapshot), so nothing is persisted yet.
    expect(io.persists.length).toBe(persistsBefore);
    pause.resolve();
    await settle();
    expect(io.persists.length).toBeGreaterThan(persistsBefore);
    expect(io.applied.flat().map((e) => e.index)).toEqual([1, 2]);
    expect(io.log[io.log.length - 1]).toBe('between');
  });

  it('never calls apply with nothing to apply', () => {
    const core = newRaft('b', ['a', 'b', 'c']);
    const io = new RecordingIO();
    const loop = new ReadyLoop(core, io);
    core.step(heartbeat({ from: 'a', to: 'b', term: 1 }));
    loop.kick();
    expect(io.log.some((l) => l.startsWith('persist'))).toBe(true);
    expect(io.applied).toEqual([]);
  });

  it('holds the next Ready until an asynchronous persist finishes, sending heartbeat-like messages meanwhile', async () => {
    const { core, io, loop, write } = campaignWithPendingWrite();
    expect(io.persists).toHaveLength(1);
    core.propose([bytes('x')]);
    loop.kick();
    expect(io.persists).toHaveLength(1); // group commit: the proposal waits for the write in progress
    expect(io.reported).toHaveLength(0); // nothing is reported before it is durable
    write.resolve();
    await settle();
    expect(io.persists.length).toBeGreaterThan(1);
    expect(io.applied.flat().map((e) => e.index)).toEqual([1, 2]);
  });

  it('holds the next Ready until an asynchronous apply finishes, and answers reads only after it', async () => {
    const { core, io, loop } = solo();
    const applying = deferred();
    io.applyWaits.push(applying);
    core.campaign();
    loop.kick(); // applies the no-op, asynchronously
    expect(io.applied).toHaveLength(1);
    const readsBefore = io.readStateReadies.length;
    const persistsBefore = io.persists.length;
    core.propose([bytes('x')]);
    loop.kick();
    expect(io.persists).toHaveLength(persistsBefore); // the proposal is not even persisted while the apply runs
    expect(io.readStateReadies.length).toBe(readsBefore); // readStates wait for the apply of the same Ready
    applying.resolve();
    await settle();
    // The reads of the very Ready whose apply was pending are answered, once it finished.
    const answered = io.readStateReadies.slice(readsBefore);
    expect(answered.some((rd) => rd.committedEntries.some((e) => e.index === 1))).toBe(true);
    expect(io.applied.flat().map((e) => e.index)).toEqual([1, 2]);
  });

  it('runs the after-persist steps once when a persisted Ready then applies asynchronously', async () => {
    const { core, io, loop } = solo();
    const write = deferred();
    const applying = deferred();
    io.persistWaits.push(write);
    core.campaign();
    loop.kick();
    write.resolve();
    await settle();
    // The no-op committed in a second Ready; make its apply asynchronous too.
    core.propose([bytes('x')]);
    io.applyWaits.push(applying);
    loop.kick();
    await settle();
    applying.resolve();
    await settle();
    const applies = io.log.filter((l) => l.startsWith('apply'));
    expect(applies).toEqual(['apply 1', 'apply 2']);
    expect(io.log.filter((l) => l === 'persisted').length).toBe(io.persists.length);
  });

  it('waits for an asynchronous apply that follows an asynchronous persist before taking the next Ready', async () => {
    const { core, io, loop } = solo();
    const election = deferred();
    const commit = deferred();
    const applying = deferred();
    io.persistWaits.push(election, commit);
    io.applyWaits.push(applying);
    core.campaign();
    loop.kick();
    election.resolve();
    await settle();
    commit.resolve(); // the no-op's commit is durable: its apply starts and stays pending
    await settle();
    expect(io.applied.flat().map((e) => e.index)).toEqual([1]);
    const persistsDuringApply = io.persists.length;
    core.propose([bytes('x')]);
    loop.kick();
    await settle();
    expect(io.persists).toHaveLength(persistsDuringApply);
    applying.resolve();
    await settle();
    expect(io.persists.length).toBeGreaterThan(persistsDuringApply);
    expect(io.applied.flat().map((e) => e.index)).toEqual([1, 2]);
  });

  it('after close, messages produced while a persist is pending are not sent', async () => {
    const core = newRaft('b', ['a', 'b', 'c']);
    const io = new RecordingIO();
    const loop = new ReadyLoop(core, io);
    const write = deferred();
    io.persistWaits.push(write);
    core.step(heartbeat({ from: 'a', to: 'b', term: 1 })); // adopting term 1 needs a persist
    loop.kick();
    const sentBeforeClose = io.log.filter((l) => l.startsWith('send')).length;
    void loop.close();
    core.step(heartbeat({ from: 'a', to: 'b', term: 1 }));
    loop.kick();
    write.resolve();
    await settle();
    expect(io.log.filter((l) => l.startsWith('send')).length).toBe(sentBeforeClose);
  });

  it('after close, a kick does nothing and a persist that finishes late has no further effect', async () => {
    const { core, io, loop, write } = campaignWithPendingWrite();
    const closed = loop.close();
    write.resolve();
    await closed;
    await settle();
    expect(io.log).toEqual(['persist']); // not reported, not applied
    core.propose([bytes('x')]);
    loop.kick();
    expect(io.log).toEqual(['persist']);
  });

  it('close() on an idle loop resolves at once and stops later kicks', async () => {
    const { core, io, loop } = solo();
    await loop.close();
    core.campaign();
    loop.kick();
    expect(io.log).toEqual([]);
  });

  it('a synchronous failure stops the loop and is reported once as fatal', () => {
    const { core, io, loop } = solo();
    const boom = new Error('disk gone');
    io.persistThrows = boom;
    core.campaign();
    loop.kick();
    expect(io.fatals).toEqual([boom]);
    io.persistThrows = undefined;
    core.propose([bytes('x')]);
    loop.kick();
    expect(io.persists).toHaveLength(0);
    expect(io.fatals).toHaveLength(1);
  });

  it('an asynchronous persist failure is reported once as fatal and nothing after it runs', async () => {
    const { core, io, loop, write } = campaignWithPendingWrite();
    const boom = new Error('fsync failed');
    write.reject(boom);
    await settle();
    expect(io.fatals).toEqual([boom]);
    expect(io.log).toEqual(['persist']);
    core.propose([bytes('x')]);
    loop.kick();
    expect(io.persists).toHaveLength(1);
  });

  it('a failure that completes after close is not reported', async () => {
    const { io, loop, write } = campaignWithPendingWrite();
    const closed = loop.close();
    write.reject(new Error('late'));
    await closed.catch(() => undefined);
    await settle();
    expect(io.fatals).toEqual([]);
  });
});
