/**
 * Log lines about bad input, at most one per kind per interval: a flood of malformed records
 * must not become a flood of log lines. The next line of a kind says how many were suppressed.
 */
export class RateLimitedLog {
  readonly #last = new Map<string, { at: number; suppressed: number }>();

  constructor(
    private readonly write: (line: string) => void,
    private readonly intervalMs: number,
    private readonly now: () => number,
  ) {}

  log(kind: string, message: string): void {
    const now = this.now();
    const last = this.#last.get(kind);
    if (last !== undefined && now - last.at < this.intervalMs) {
      last.suppressed++;
      return;
    }
    const suppressed = last?.suppressed ?? 0;
    this.#last.set(kind, { at: now, suppressed: 0 });
    this.write(suppressed > 0 ? `${message} (${suppressed} more like it suppressed)` : message);
  }
}
