/**
 * Expires entries whose deadline has passed with one timer per owner instead of one per entry.
 * The timer is armed for the earliest known deadline and re-armed lazily when it fires: deadlines
 * mostly arrive in increasing order, so a busy connection re-arms about once per timeout period.
 */
import type { Clock } from "./clock";

export interface Deadlined {
  deadline: number;
}

export class DeadlineSweeper<T extends Deadlined> {
  readonly #entries = new Set<T>();
  readonly #clock: Clock;
  readonly #onExpire: (entry: T) => void;
  #timer: unknown;
  #due = Number.POSITIVE_INFINITY;

  constructor(clock: Clock, onExpire: (entry: T) => void) {
    this.#clock = clock;
    this.#onExpire = onExpire;
  }

  get size(): number {
    return this.#entries.size;
  }

  add(entry: T): void {
    this.#entries.add(entry);
    if (entry.deadline < this.#due) this.#arm(entry.deadline);
  }

  /** Forgets an entry; the timer stays armed and finds nothing to do (cheaper than re-arming). */
  delete(entry: T): void {
    this.#entries.delete(entry);
  }

  /** Forgets every entry and stops the timer. */
  clear(): void {
    this.#entries.clear();
    this.#disarm();
  }

  #arm(deadline: number): void {
    this.#disarm();
    this.#due = deadline;
    this.#timer = this.#clock.setTimer(() => this.#sweep(), deadline - this.#clock.now());
  }

  #disarm(): void {
    if (this.#timer !== undefined) this.#clock.clearTimer(this.#timer);
    this.#timer = undefined;
    this.#due = Number.POSITIVE_INFINITY;
  }

  #sweep(): void {
    this.#timer = undefined;
    this.#due = Number.POSITIVE_INFINITY;
    const now = this.#clock.now();
    const expired: T[] = [];
    let next = Number.POSITIVE_INFINITY;
    for (const entry of this.#entries) {
      if (entry.deadline <= now) expired.push(entry);
      else if (entry.deadline < next) next = entry.deadline;
    }
    for (const entry of expired) this.#entries.delete(entry);
    // Callbacks may add entries (and arm the timer) themselves; only arm when they did not arm earlier.
    for (const entry of expired) this.#onExpire(entry);
    if (next < this.#due && this.#entries.size > 0) this.#arm(next);
  }
}
