import { Raft } from '../core/raft.js';
import { createRandom } from '../core/random.js';
import type { PlantedBugs } from '../core/types.js';
import { ConfigError, RaftError, StorageError, TransportError } from '../errors.js';
import type { Snapshot } from '../messages.js';
import { DEFAULT_SNAPSHOT_SETTINGS, type NodeOptions } from '../options.js';
import type { PersistedState } from '../storage/storage.js';
import type { Applier } from './applier.js';
import { isPromiseLike } from './promise-like.js';
import type { TickSchedule } from './ticks.js';

/**
 * Builds the core from the node's options and what storage returned. The
 * core refuses state it cannot resume from (a log with a gap, say); that is
 * a storage problem to the user, so it becomes a StorageError whose `cause`
 * is the core's own error.
 */
export function loadCore(
  options: NodeOptions,
  ticks: TickSchedule,
  seed: number,
  plantedBugs: PlantedBugs | undefined,
  stored: PersistedState,
): Raft {
  const config = {
    id: options.id,
    voters: options.peers,
    electionTicksMin: ticks.electionTicksMin,
    electionTicksMax: ticks.electionTicksMax,
    heartbeatTicks: ticks.heartbeatTicks,
    preVote: options.preVote,
    checkQuorum: options.checkQuorum,
    maxInflightMessages: options.maxInflightMessages,
    maxEntriesPerAppend: options.maxEntriesPerAppend,
    maxBytesPerAppend: options.maxBytesPerAppend,
    // Automatic snapshots off: a snapshot taken on demand still travels in chunks of the default size.
    snapshotChunkBytes: (options.snapshots === false ? DEFAULT_SNAPSHOT_SETTINGS : options.snapshots).chunkBytes,
    random: createRandom(seed),
    plantedBugs,
  };
  return startStep(
    () => new Raft(config, stored),
    (message, cause) => new StorageError(`Storage holds a state this node cannot resume from: ${message}`, { cause }),
  );
}

/**
 * On start, the state machine takes the state of the newest stored snapshot
 * before any entry is applied; the core then hands out only the entries
 * after it. A state machine that cannot restore it could only apply those
 * entries to a state that lacks the ones before: the start fails instead.
 */
export function restoreStored(
  snapshot: Snapshot | null | undefined,
  options: NodeOptions,
  applier: Applier,
): void | Promise<void> {
  if (snapshot === null || snapshot === undefined) return;
  const cannot = (message: string, cause?: unknown): StorageError =>
    new StorageError(
      `Storage holds a snapshot (index ${snapshot.index}, term ${snapshot.term}) that the state machine cannot restore: ${message}`,
      { cause },
    );
  if (options.stateMachine !== undefined && options.stateMachine.restore === undefined) {
    throw cannot('it has no restore()');
  }
  return startStep(() => applier.restore(snapshot), cannot);
}

type Wrap = (message: string, cause: unknown) => RaftError;

/**
 * Runs one step of `start()`, synchronous or not, so that its failure is
 * typed: a RaftError passes as it is; anything else is wrapped by `wrap`
 * (given the original message) with the original as `cause`, so callers can
 * tell a storage fault from a transport one.
 */
export function startStep<T>(step: () => T, wrap: Wrap): T {
  let result: T;
  try {
    result = step();
  } catch (error) {
    throw typed(error, wrap);
  }
  if (!isPromiseLike(result)) return result;
  return Promise.resolve(result).catch((error: unknown) => {
    throw typed(error, wrap);
  }) as T;
}

export const openFailed: Wrap = (message, cause) => new StorageError(`Could not open storage: ${message}`, { cause });

export const transportFailed: Wrap = (message, cause) =>
  new TransportError(`Transport could not start: ${message}`, { cause });

/** `clock` is an option; a clock that cannot schedule the ticks is a broken one. */
export const clockFailed: Wrap = (message, cause) =>
  new ConfigError([{ path: 'clock', message: `clock.every threw: ${message}` }], { cause });

function typed(error: unknown, wrap: Wrap): RaftError {
  if (RaftError.isInstance(error)) return error;
  return wrap(error instanceof Error ? error.message : String(error), error);
}
