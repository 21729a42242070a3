/**
 * Caps how often one kind of event is logged. A stranger hammering a port
 * with garbage must not turn into a flood of log lines (which is its own
 * denial of service); the suppressed count is reported with the next line
 * that gets through.
 */
export class LogLimiter {
  private readonly windows = new Map<string, { start: number; count: number; suppressed: number }>();

  constructor(
    private readonly perWindow = 10,
    private readonly windowMs = 10_000,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * Whether to log an event of `kind` now; when it is, `suppressed` says how
   * many were skipped since the last one logged (0 when none).
   */
  allow(kind: string): { readonly log: boolean; readonly suppressed: number } {
    const now = this.now();
    let w = this.windows.get(kind);
    if (w === undefined || now - w.start >= this.windowMs) {
      const suppressed = w?.suppressed ?? 0;
      w = { start: now, count: 1, suppressed: 0 };
      this.windows.set(kind, w);
      return { log: true, suppressed };
    }
    if (w.count < this.perWindow) {
      w.count++;
      return { log: true, suppressed: 0 };
    }
    w.suppressed++;
    return { log: false, suppressed: 0 };
  }
}
