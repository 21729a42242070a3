import type { NodeId } from '../messages.js';
import type { Logger } from '../options.js';

/** The `code` of the process warning that reports a fatal fault nobody listens for. */
export const FATAL_WARNING_CODE = 'BELLWETHER_FATAL';

/**
 * The process warning for a fatal fault on a node with no `error` listener.
 * Its `cause` is the fault itself; filter with
 * `process.on('warning', (w) => w.code === 'BELLWETHER_FATAL')`.
 */
export class FatalWarning extends Error {
  readonly code = FATAL_WARNING_CODE;
  readonly nodeId: NodeId;

  constructor(nodeId: NodeId, fault: Error) {
    super(`bellwether node "${nodeId}" stopped on a fatal error and has no 'error' listener: ${fault.message}`, {
      cause: fault,
    });
    this.nodeId = nodeId;
  }
}
FatalWarning.prototype.name = 'BellwetherWarning';

/** What fatal faults need from the node. */
export interface FaultHooks {
  readonly id: NodeId;
  readonly logger: Logger;
  stop(): Promise<void>;
  /** How many `error` listeners there are now. */
  errorListeners(): number;
  emitError(fault: Error): void;
}

/**
 * A fatal fault (storage, state machine, a core invariant) stops the node
 * once, then is reported, never silently: to the `error` listeners when
 * there are any, otherwise as a process warning.
 *
 * Why a warning and not Node's convention of throwing an unhandled `error`:
 * bellwether is a library embedded in a service, and a storage fault on one
 * node must not crash the whole host process from a stack the service never
 * called into. `process.emitWarning` is printed to stderr by default, reaches
 * every `process.on('warning')` handler (and so the service's monitoring),
 * and leaves the decision to crash with the service.
 */
export class FatalFaults {
  private failed = false;

  constructor(private readonly hooks: FaultHooks) {}

  fail(error: unknown): void {
    const { id, logger } = this.hooks;
    // One fatal fault stops the node; later ones (from the same stop) are only logged.
    if (this.failed) {
      logger.warn({ id, err: error }, 'another fault while stopping');
      return;
    }
    this.failed = true;
    // Storage errors arrive typed (StorageError); a state machine's own error is passed on as it is.
    const fault = error instanceof Error ? error : new Error(String(error));
    logger.error({ id, err: fault }, 'fatal error; stopping the node');
    void this.hooks.stop().then(() => {
      if (this.hooks.errorListeners() > 0) this.hooks.emitError(fault);
      else process.emitWarning(new FatalWarning(id, fault));
    });
  }
}
