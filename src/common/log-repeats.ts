/**
 * Rate-limits repeated identical warnings and errors: the first is written, the same line again
 * within REPEAT_WINDOW_MS is only counted, and when the window ends one line says how many were
 * held back. A bounded number of distinct lines is tracked (the oldest is forgotten first).
 */
export const REPEAT_WINDOW_MS = 10_000;
export const MAX_TRACKED_LINES = 256;

export interface RepeatTimers {
  now(): number;
  setTimer(fn: () => void, ms: number): unknown;
}

interface Tracked {
  until: number;
  held: number;
}

export class RepeatFilter {
  readonly #lines = new Map<string, Tracked>();
  /** Lines held back since start, for an operator-visible counter. */
  held = 0;

  constructor(
    readonly timers: RepeatTimers,
    /** Writes the summary line of `key` once its window ended with lines held back. */
    readonly summarize: (key: string, held: number) => void,
  ) {}

  /** Forgets every window (a reload: what is logged after it is news); held lines are summarized now. */
  reset(): void {
    for (const [key, entry] of this.#lines) {
      if (entry.held > 0) this.summarize(key, entry.held);
      entry.held = 0;
    }
    this.#lines.clear();
  }

  /** True when the line is to be written now. */
  pass(key: string): boolean {
    const now = this.timers.now();
    const tracked = this.#lines.get(key);
    if (tracked && now < tracked.until) {
      tracked.held += 1;
      this.held += 1;
      return false;
    }
    if (this.#lines.size >= MAX_TRACKED_LINES) this.#lines.delete(this.#lines.keys().next().value!);
    const entry: Tracked = { until: now + REPEAT_WINDOW_MS, held: 0 };
    this.#lines.set(key, entry);
    this.timers.setTimer(() => {
      if (this.#lines.get(key) === entry) this.#lines.delete(key);
      if (entry.held > 0) this.summarize(key, entry.held);
    }, REPEAT_WINDOW_MS);
    return true;
  }
}
