/** A clock that only moves when a test advances it; timers fire in deadline order. Test support. */
import type { Clock, Random } from "./clock";

interface ManualTimer {
  at: number;
  fn: () => void;
  seq: number;
}

export class ManualClock implements Clock {
  #now: number;
  #seq = 0;
  readonly #timers = new Set<ManualTimer>();

  constructor(start = 1_000_000) {
    this.#now = start;
  }

  now(): number {
    return this.#now;
  }

  setTimer(fn: () => void, ms: number): unknown {
    const timer = { at: this.#now + Math.max(0, ms), fn, seq: this.#seq++ };
    this.#timers.add(timer);
    return timer;
  }

  clearTimer(handle: unknown): void {
    this.#timers.delete(handle as ManualTimer);
  }

  get pendingTimers(): number {
    return this.#timers.size;
  }

  /** Moves time forward, firing every timer that falls due on the way. */
  advance(ms: number): void {
    const end = this.#now + ms;
    for (;;) {
      let first: ManualTimer | undefined;
      for (const timer of this.#timers) {
        if (timer.at <= end && (!first || timer.at < first.at || (timer.at === first.at && timer.seq < first.seq))) first = timer;
      }
      if (!first) break;
      this.#timers.delete(first);
      this.#now = Math.max(this.#now, first.at);
      first.fn();
    }
    this.#now = end;
  }
}

/** Deterministic randomness: session ids count up from `firstId`, fractions repeat `fraction`. */
export function sequentialRandom(firstId = 1, fraction = 0.5): Random {
  let next = firstId;
  return { sessionId: () => next++, fraction: () => fraction };
}
