/**
 * The one logger shape bellwether takes, wherever it logs: RaftNode,
 * FileStorage and TcpTransport all accept the same object, so a user passes
 * their pino (or anything with these four methods) to each.
 */

/**
 * A pino-compatible logger: pino, or anything with these four methods.
 * `obj` carries structured fields; `msg` is the human-readable line.
 */
export interface Logger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

/** The methods a Logger must have, for validating one given by the user. */
export const LOGGER_METHODS = ['debug', 'info', 'warn', 'error'] as const;

/** The default logger: says nothing. */
export const silentLogger: Logger = Object.freeze({
  debug() {},
  info() {},
  warn() {},
  error() {},
});
