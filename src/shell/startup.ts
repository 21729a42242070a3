import { Raft } from '../core/raft.js';
import { createRandom } from '../core/random.js';
import type { PlantedBugs } from '../core/types.js';
import { ConfigError, RaftError, StorageError, TransportError } from '../errors.js';
import type { NodeOptions } from '../options.js';
import type { PersistedState } from '../storage/storage.js';
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
    snapshotChunkBytes: 1 << 20,
    random: createRandom(seed),
    plantedBugs,
  };
  return startStep(
    () => {
      // Restoring snapshots comes with log compaction; until then a stored
      // snapshot (whose prefix the log no longer holds) must not be dropped.
      if (stored.snapshot)
        throw new Error(`it holds a snapshot (index ${stored.snapshot.index}), which this version cannot restore`);
      return new Raft(config, stored);
    },
    (message, cause) => new StorageError(`Storage holds a state this node cannot resume from: ${message}`, { cause }),
  );
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
