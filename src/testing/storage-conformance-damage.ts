import type * as Vitest from 'vitest';
import type { Snapshot, Storage } from '../storage/storage.js';
import {
  checks,
  type Harness,
  range,
  snapshot,
  type SnapshotMethods,
  type StorageUnderTest,
} from './storage-conformance-kit.js';
import type { VitestApi } from './vitest-api.js';

/** The fault hooks a storage under test may give (see StorageUnderTest). */
export type FaultHook = 'crashDuringSnapshot' | 'damageNewestSnapshot';

export interface DamageCasesOptions {
  /** The hooks `create` gives, declared in `StorageConformanceOptions.faults`. */
  readonly faults: ReadonlySet<FaultHook>;
  readonly api: VitestApi;
  readonly harness: Harness;
  /** The storage's snapshot methods, or the case skipped or failed as the snapshot cases decide. */
  snapshotsOf(storage: Storage, context: Vitest.TestContext): SnapshotMethods;
  /** A fresh storage, opened, with its snapshot methods. */
  openWithSnapshots(
    context: Vitest.TestContext,
  ): Promise<{ subject: StorageUnderTest; storage: Storage; s: SnapshotMethods }>;
}

const CRASH = 'played by the crashDuringSnapshot hook';
const DAMAGE = 'played by the damageNewestSnapshot hook';

/** A hook declared in `faults` that `create` did not give: the declaration is wrong, so the case fails. */
function missing(hook: FaultHook): Error {
  return new Error(`faults declares ${hook}, but the storage under test that create() returned has no ${hook} hook`);
}

/**
 * The conformance cases of what a snapshot must survive: a crash in the
 * middle of saving one, and one damaged at rest. Only the storage can play
 * those (a crash or a bad disk means nothing to an in-memory storage), so
 * the cases of a hook are registered only for a storage that declares it
 * in `StorageConformanceOptions.faults` and gives it from `create`
 * (`StorageUnderTest.crashDuringSnapshot`, `damageNewestSnapshot`).
 *
 * What they pin, from the Storage contract: a crash loses nothing that had
 * resolved; damaged data is never returned, and is passed over only for an
 * older snapshot the log still fully follows, else `open` fails with
 * `CorruptionError`.
 */
export function defineDamageCases({ faults, api, harness, snapshotsOf, openWithSnapshots }: DamageCasesOptions): void {
  if (faults.size === 0) return;
  const { describe, expect } = api;
  const check = checks(expect);
  /** Registers a case only for a storage that declared the hook it is played with. */
  const itWith =
    (hook: FaultHook) =>
    (name: string, fn: (context: Vitest.TestContext) => Promise<void>): void => {
      if (faults.has(hook)) api.it(name, fn);
    };
  const withCrash = itWith('crashDuringSnapshot');
  const withDamage = itWith('damageNewestSnapshot');

  function crashOf(subject: StorageUnderTest) {
    const crash = subject.crashDuringSnapshot;
    if (crash === undefined) throw missing('crashDuringSnapshot');
    return (storage: Storage, saving: Snapshot) => crash.call(subject, storage, saving);
  }

  function damageOf(subject: StorageUnderTest) {
    const damage = subject.damageNewestSnapshot;
    if (damage === undefined) throw missing('damageNewestSnapshot');
    return async () => damage.call(subject);
  }

  /** A fresh storage, opened, with its snapshot methods and its damage hook. */
  async function openToDamage(context: Vitest.TestContext) {
    const opened = await openWithSnapshots(context);
    return { ...opened, damage: damageOf(opened.subject) };
  }

  /** Two opens in a row fail with CorruptionError: the first did not repair the damage away. */
  async function openFailsWithCorruption(subject: StorageUnderTest, what: string): Promise<void> {
    await check.corruptionError(() => harness.reopen(subject), what);
    await check.corruptionError(() => harness.reopen(subject), `${what}, opened again`);
  }

  describe('a crash in the middle of a snapshot, and a damaged snapshot', () => {
    withCrash(
      `a crash in the middle of saveSnapshot loses nothing: the older snapshot, the log after it and the hard state are all there, and the snapshot can be taken again (${CRASH})`,
      async (context) => {
        const { subject, storage, s } = await openWithSnapshots(context);
        const crash = crashOf(subject);
        await storage.save({ term: 2, vote: 'a', commit: 40 }, range(1, 50, 2));
        await s.saveSnapshot(snapshot(20, 2, 'twenty'));
        await s.compact(20);
        await storage.save({ term: 2, vote: 'a', commit: 55 }, range(51, 60, 2));
        await crash(storage, snapshot(55, 2, 'fifty-five'));

        let restarted = await harness.reopen(subject);
        check.sameSnapshot(restarted.state.snapshot, snapshot(20, 2, 'twenty'));
        check.sameLog(restarted.state.entries, range(21, 60, 2));
        expect(restarted.state.hardState).toEqual({ term: 2, vote: 'a', commit: 55 });
        const again = snapshotsOf(restarted.storage, context);
        await again.saveSnapshot(snapshot(55, 2, 'fifty-five'));
        await again.compact(55);
        restarted = await harness.restart(subject, restarted.storage);
        check.sameSnapshot(restarted.state.snapshot, snapshot(55, 2, 'fifty-five'));
        check.sameLog(restarted.state.entries, range(56, 60, 2));
        expect(restarted.state.hardState).toEqual({ term: 2, vote: 'a', commit: 55 });
      },
    );

    withCrash(
      `a crash in the middle of a first snapshot that would discard the log (Figure 13, step 7) leaves no snapshot and the whole log, which later saves extend (${CRASH})`,
      async (context) => {
        const { subject, storage } = await openWithSnapshots(context);
        const crash = crashOf(subject);
        await storage.save({ term: 2, vote: 'b', commit: 8 }, range(1, 10, 2));
        // A leader's snapshot that this log does not match: saving it would have discarded every entry.
        await crash(storage, snapshot(30, 3, 'leader'));

        let restarted = await harness.reopen(subject);
        expect(restarted.state.snapshot ?? null).toBeNull();
        check.sameLog(restarted.state.entries, range(1, 10, 2));
        expect(restarted.state.hardState).toEqual({ term: 2, vote: 'b', commit: 8 });
        await restarted.storage.save({ term: 3, vote: null, commit: 9 }, range(11, 12, 3));
        restarted = await harness.restart(subject, restarted.storage);
        expect(restarted.state.snapshot ?? null).toBeNull();
        check.sameLog(restarted.state.entries, [...range(1, 10, 2), ...range(11, 12, 3)]);
        expect(restarted.state.hardState).toEqual({ term: 3, vote: null, commit: 9 });
      },
    );

    withDamage(
      `a damaged newest snapshot is passed over for the newest older valid one whose log is all there: open returns it, every entry after it and the hard state, and the storage goes on (${DAMAGE})`,
      async (context) => {
        const { subject, storage, s, damage } = await openToDamage(context);
        await storage.save({ term: 1, vote: 'a', commit: 35 }, range(1, 40, 1));
        await s.saveSnapshot(snapshot(10, 1, 'ten'));
        await s.saveSnapshot(snapshot(20, 1, 'twenty'));
        await s.saveSnapshot(snapshot(30, 1, 'thirty'));
        await s.compact(10);
        await harness.close(storage);
        await damage();

        let restarted = await harness.reopen(subject);
        check.sameSnapshot(restarted.state.snapshot, snapshot(20, 1, 'twenty'));
        check.sameLog(restarted.state.entries, range(21, 40, 1));
        expect(restarted.state.hardState).toEqual({ term: 1, vote: 'a', commit: 35 });
        // The entries the damaged snapshot held are still in the log, so the node can take it again.
        await restarted.storage.save({ term: 2, vote: 'b', commit: 42 }, range(41, 45, 2));
        await snapshotsOf(restarted.storage, context).saveSnapshot(snapshot(42, 2, 'forty-two'));
        restarted = await harness.restart(subject, restarted.storage);
        check.sameSnapshot(restarted.state.snapshot, snapshot(42, 2, 'forty-two'));
        check.sameLog(restarted.state.entries, range(43, 45, 2));
        expect(restarted.state.hardState).toEqual({ term: 2, vote: 'b', commit: 42 });
      },
    );

    withDamage(
      `a damaged snapshot with no older one fails open with CorruptionError, even with the whole log there, on every open (${DAMAGE})`,
      async (context) => {
        const { subject, storage, s, damage } = await openToDamage(context);
        await storage.save({ term: 1, vote: 'a', commit: 20 }, range(1, 30, 1));
        await s.saveSnapshot(snapshot(10, 1));
        await harness.close(storage);
        await damage();
        // The log alone is not the state: the state machine's snapshot may hold what no entry does.
        await openFailsWithCorruption(subject, 'the only snapshot damaged');
      },
    );

    withDamage(
      `a damaged snapshot that discarded the log (Figure 13, step 7) fails open with CorruptionError: an older snapshot is no fallback once the entries after it are gone (${DAMAGE})`,
      async (context) => {
        const { subject, storage, s, damage } = await openToDamage(context);
        await storage.save({ term: 1, vote: 'a', commit: 8 }, range(1, 10, 1));
        await s.saveSnapshot(snapshot(5, 1, 'five'));
        // A leader's snapshot far ahead of this log: the entries after index 5 are discarded.
        await s.saveSnapshot(snapshot(100, 3, 'leader'));
        await storage.save({ term: 3, vote: null, commit: 101 }, range(101, 102, 3));
        await harness.close(storage);
        await damage();
        await openFailsWithCorruption(subject, 'the newest snapshot damaged, the older one without its log');
      },
    );
  });
}
