import { describe, expect, it } from 'vitest';
import { bytes, Network } from './harness.js';

describe('leadership transfer (thesis §3.10)', () => {
  it('hands leadership to an up-to-date follower, which wins at once despite leader stickiness', () => {
    const net = Network.create(['a', 'b', 'c']);
    const a = net.electLeader('a');
    const term = a.term;
    expect(a.transferLeader('c')).toBe('c');
    net.stabilize();
    expect(net.node('c').role).toBe('leader');
    expect(net.node('c').term).toBe(term + 1);
    expect(a.role).toBe('follower');
    expect(a.leaderId).toBe('c');
    expect(net.electionSafetyViolations()).toEqual([]);
  });

  it('brings a lagging target up to date first and refuses proposals meanwhile', () => {
    const net = Network.create(['a', 'b', 'c']);
    const a = net.electLeader('a');
    net.isolate('c');
    a.propose([bytes('x'), bytes('y')]);
    net.stabilize();
    const last = a.lastIndex;
    expect(net.node('c').lastIndex).toBeLessThan(last);
    net.rejoin('c');
    expect(a.transferLeader('c')).toBe('c');
    // No new entries while handing over: the caller is pointed at the target.
    expect(a.propose([bytes('z')])).toEqual({ ok: false, leaderId: 'c' });
    net.stabilize();
    const c = net.node('c');
    expect(c.role).toBe('leader');
    // The new leader holds everything the old one had, plus its own no-op.
    expect(c.termAt(last)).toBe(a.termAt(last));
    expect(c.lastIndex).toBe(last + 1);
  });

  it('is abandoned after an election timeout if the target never catches up; proposals resume', () => {
    const net = Network.create(['a', 'b', 'c']);
    const a = net.electLeader('a');
    net.isolate('c');
    a.propose([bytes('x')]);
    net.stabilize();
    expect(a.transferLeader('c')).toBe('c');
    expect(a.propose([bytes('refused')]).ok).toBe(false);
    net.tick(12, ['a', 'b']);
    expect(a.role).toBe('leader');
    expect(a.leadTransferee).toBeNull();
    expect(a.propose([bytes('accepted')]).ok).toBe(true);
  });

  it('picks the most up-to-date follower when no target is named; a follower cannot transfer', () => {
    const net = Network.create(['a', 'b', 'c']);
    const a = net.electLeader('a');
    net.isolate('b');
    a.propose([bytes('x')]);
    net.stabilize();
    net.rejoin('b');
    expect(a.transferLeader()).toBe('c');
    expect(net.node('b').transferLeader('c')).toBeNull();
  });
});
