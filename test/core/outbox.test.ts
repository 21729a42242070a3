/** The Outbox on its own: which held-back messages a truncation withdraws. */
import { describe, expect, it } from 'vitest';
import { Outbox } from '../../src/core/outbox.js';
import { appendResponse, voteResponse } from './harness.js';

describe('Outbox.withdrawAcks (Figure 2: durable before responding)', () => {
  it('drops only the waiting acknowledgements that claim an entry at or past the truncation; other held-back messages stay', () => {
    const outbox = new Outbox({});
    const ack = (matchIndex: number) => appendResponse({ from: 'f', to: 'l', term: 2, success: true, matchIndex });
    const atCut = ack(5);
    const pastCut = ack(6);
    const belowCut = ack(4);
    const grant = voteResponse({ from: 'f', to: 'c', term: 2, granted: true });
    // A rejection claims no entry; built with a large matchIndex so that only its `success` keeps it.
    const rejection = appendResponse({ from: 'f', to: 'l', term: 2, success: false, matchIndex: 9, rejectedIndex: 7 });
    for (const m of [atCut, grant, pastCut, belowCut, rejection]) outbox.send(m);

    outbox.withdrawAcks(5);

    const { messages, afterPersist } = outbox.drain();
    expect(messages).toEqual([]);
    expect(afterPersist).toEqual([grant, belowCut, rejection]);
  });
});
