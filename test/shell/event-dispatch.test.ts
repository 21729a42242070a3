import { EventEmitter } from 'eventemitter3';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Logger } from '../../src/options.js';
import type { RaftNodeEvents } from '../../src/shell/events.js';
import { enc, soloNode } from './solo-node.js';

/**
 * RaftNode dispatches its events itself (so that a throwing listener cannot
 * unwind the Raft loop), but every registration call is eventemitter3's own.
 * These tests run one sequence of calls on a plain eventemitter3 emitter and
 * on a RaftNode, and require the same listener calls (which function, with
 * which `this`) and the same listenerCount after every step.
 */

type Register = 'on' | 'once' | 'addListener';
type Unregister = 'off' | 'removeListener';

/** One call on the emitter; `fn` and `ctx` index the subject's own functions and contexts. */
type Op =
  | { readonly kind: Register; readonly fn: number; readonly ctx: number }
  | { readonly kind: Unregister; readonly fn: number | null; readonly ctx: number; readonly once: boolean }
  | { readonly kind: 'removeAllListeners'; readonly everyEvent: boolean }
  | { readonly kind: 'emit' };

/** What one subject does: how it emits `applied`, and the emitter that registration calls go to. */
interface Subject {
  readonly emitter: EventEmitter<RaftNodeEvents>;
  emitApplied(): Promise<void>;
}

/** After each op: the listener calls it caused and the listenerCount of `applied`. */
interface Step {
  readonly calls: string[];
  readonly count: number;
}

const CONTEXT_NAMES = ['none', 'ctxA', 'ctxB'] as const;

/**
 * Runs `ops` on `subject`. Listeners: f0 and f1 only record their call; f2
 * also removes f0 while the event is being dispatched; f3 also registers f1
 * while the event is being dispatched.
 */
async function trace(subject: Subject, ops: readonly Op[]): Promise<Step[]> {
  const { emitter } = subject;
  const contexts = [undefined, { name: 'ctxA' }, { name: 'ctxB' }];
  let calls: string[] = [];
  const label = (self: unknown): string => (self === emitter ? 'self' : ((self as { name?: string })?.name ?? 'other'));
  const recorder = (name: string, then?: () => void) =>
    function (this: unknown): void {
      calls.push(`${name}@${label(this)}`);
      then?.();
    };
  const fns: ((...args: unknown[]) => void)[] = [];
  fns.push(recorder('f0'));
  fns.push(recorder('f1'));
  fns.push(recorder('f2', () => emitter.off('applied', fns[0])));
  fns.push(recorder('f3', () => emitter.on('applied', fns[1])));
  const steps: Step[] = [];
  for (const op of ops) {
    switch (op.kind) {
      case 'on':
      case 'once':
      case 'addListener':
        emitter[op.kind]('applied', fns[op.fn], contexts[op.ctx]);
        break;
      case 'off':
      case 'removeListener':
        emitter[op.kind]('applied', op.fn === null ? undefined : fns[op.fn], contexts[op.ctx], op.once);
        break;
      case 'removeAllListeners':
        if (op.everyEvent) emitter.removeAllListeners();
        else emitter.removeAllListeners('applied');
        break;
      case 'emit':
        await subject.emitApplied();
        break;
    }
    steps.push({ calls, count: emitter.listenerCount('applied') });
    calls = [];
  }
  return steps;
}

function plainSubject(): Subject {
  const emitter = new EventEmitter<RaftNodeEvents>();
  return {
    emitter,
    emitApplied: async () => {
      emitter.emit('applied', { index: 1, term: 1 });
    },
  };
}

describe('RaftNode event dispatch matches eventemitter3', () => {
  const { node, time } = soloNode();
  // On the single-node leader each proposal is applied at once: one `applied` event per proposal.
  const nodeSubject: Subject = { emitter: node, emitApplied: async () => void (await node.propose(enc('x'))) };

  beforeAll(async () => {
    await node.start();
    await time.advance(400);
    expect(node.isLeader()).toBe(true);
  });

  afterAll(async () => {
    await node.stop();
  });

  async function expectSameAsEventEmitter3(ops: readonly Op[]): Promise<void> {
    node.removeAllListeners();
    const expected = await trace(plainSubject(), ops);
    const actual = await trace(nodeSubject, ops);
    node.removeAllListeners();
    expect(actual).toEqual(expected);
  }

  const on = (fn: number, ctx = 0): Op => ({ kind: 'on', fn, ctx });
  const once = (fn: number, ctx = 0): Op => ({ kind: 'once', fn, ctx });
  const off = (fn: number | null, ctx = 0, onlyOnce = false): Op => ({ kind: 'off', fn, ctx, once: onlyOnce });
  const emit: Op = { kind: 'emit' };

  const cases: [string, Op[]][] = [
    [
      'once, off, then on of the same function: the on registration stays after it is called',
      [once(0), off(0), on(0), emit, emit],
    ],
    [
      'once then on of the same function: the once one goes after one call, the on one stays',
      [once(0), on(0), emit, emit],
    ],
    ['on then once of the same function', [on(0), once(0), emit, emit]],
    ['the same function registered twice is called twice, and off removes both', [on(0), on(0), emit, off(0), emit]],
    ['once registered twice: both called once, both gone', [once(0), once(0), emit, emit]],
    ['a once listener is called once', [once(0), on(1), emit, emit]],
    ['addListener is on', [{ kind: 'addListener', fn: 0, ctx: 1 }, emit, emit]],
    ['listeners run with their context, or the emitter without one', [on(0, 1), on(1), on(0, 2), emit]],
    [
      'off with a context removes only the registrations with that context',
      [on(0, 1), on(0, 2), on(0), off(0, 1), emit],
    ],
    ['off with once removes only once registrations', [on(0), once(0), off(0, 0, true), emit, emit]],
    ['removeListener is off', [on(0), on(1), { kind: 'removeListener', fn: 0, ctx: 0, once: false }, emit]],
    ['off without a function removes every listener of the event', [on(0), once(1), off(null), emit]],
    [
      'removeAllListeners for the event, then new registrations',
      [on(0), once(1), { kind: 'removeAllListeners', everyEvent: false }, on(1), emit],
    ],
    [
      'removeAllListeners of every event',
      [on(0), { kind: 'removeAllListeners', everyEvent: true }, once(0), emit, emit],
    ],
    ['a listener removed during dispatch still runs in that dispatch, not the next', [on(2), on(0), emit, emit]],
    ['a listener added during dispatch runs only from the next dispatch', [on(3), emit, emit]],
    ['a once listener that removes another during dispatch', [once(2), on(0), on(1), emit, emit]],
  ];

  it.each(cases)('%s', async (_name, ops) => {
    await expectSameAsEventEmitter3(ops);
  });

  it('any sequence of registration calls and emits behaves as on a plain eventemitter3 emitter', async () => {
    const fn = fc.integer({ min: 0, max: 3 });
    const ctx = fc.integer({ min: 0, max: CONTEXT_NAMES.length - 1 });
    const op: fc.Arbitrary<Op> = fc.oneof(
      fc.record({ kind: fc.constantFrom<Register>('on', 'once', 'addListener'), fn, ctx }),
      fc.record({
        kind: fc.constantFrom<Unregister>('off', 'removeListener'),
        fn: fc.option(fn),
        ctx,
        once: fc.boolean(),
      }),
      fc.record({ kind: fc.constant('removeAllListeners' as const), everyEvent: fc.boolean() }),
      fc.constant({ kind: 'emit' } as const),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(op, { maxLength: 14 }), (ops) => expectSameAsEventEmitter3(ops)),
      { numRuns: 150, seed: 8 },
    );
  });
});

describe('a listener that throws', () => {
  it('is logged, and the other listeners still run; a throwing once listener is removed like any other', async () => {
    const logged: string[] = [];
    const noop = (): void => undefined;
    const logger: Logger = { debug: noop, info: noop, warn: noop, error: (_obj, msg) => logged.push(String(msg)) };
    const { node, time } = soloNode({ logger });
    const seen: string[] = [];
    node.once('roleChanged', () => {
      throw new Error('listener bug');
    });
    node.on('roleChanged', (e) => seen.push(e.role));
    await node.start();
    await time.advance(400);
    expect(seen).toEqual(['leader']);
    expect(node.listenerCount('roleChanged')).toBe(1);
    expect(logged.filter((msg) => msg === 'event listener threw')).toHaveLength(1);
    // The Raft loop was not unwound: the node still commits.
    expect((await node.propose(enc('still works'))).index).toBeGreaterThan(0);
    await node.stop();
  });
});
