/**
 * Expires entries whose deadline has passed with one timer per owner instead of one per entry.
 * The timer is armed for the earliest known deadline and re-armed lazily when it fires: deadlines
 * mostly arrive in increasing order, so a busy connection re-arms about once per timeout period.
 * Entries sit in an array in the order added (a push, cheaper than a Set); a deleted one leaves a
 * hole, and the holes are compacted away once they outnumber the entries.
 */
import type { Clock } from "./clock";

export interface Deadlined {
  readonly deadline: number;
  /** The sweeper's bookkeeping: the entry's index in its array while it is there. */
  sweepIndex?: number;
}

/** Holes tolerated besides one per entry before compacting (so a few entries do not compact on every delete). */
const SLACK = 64;

export class DeadlineSweeper<T extends Deadlined> {
  #entries: (T | undefined)[] = [];
  #size = 0;
  readonly #clock: Clock;
  readonly #onExpire: (entry: T) => void;
  #timer: unknown;
  #due = Number.POSITIVE_INFINITY;

  constructor(clock: Clock, onExpire: (entry: T) => void) {
    this.#clock = clock;
    this.#onExpire = onExpire;
  }

  get size(): number {
    return this.#size;
  }

  add(entry: T): void {
    if (this.#has(entry)) return;
    entry.sweepIndex = this.#entries.length;
    this.#entries.push(entry);
    this.#size++;
    if (entry.deadline < this.#due) this.#arm(entry.deadline);
  }

  /** Forgets an entry; the timer stays armed and finds nothing to do (cheaper than re-arming). */
  delete(entry: T): void {
    if (!this.#has(entry)) return;
    this.#entries[entry.sweepIndex!] = undefined;
    this.#size--;
    if (this.#entries.length > 2 * this.#size + SLACK) this.#compact(Number.NEGATIVE_INFINITY);
  }

  /** Forgets every entry and stops the timer. */
  clear(): void {
    this.#entries = [];
    this.#size = 0;
    this.#disarm();
  }

  #has(entry: T): boolean {
    const index = entry.sweepIndex;
    return index !== undefined && this.#entries[index] === entry;
  }

  /** Closes the holes and removes the entries due at `now`; returns those, in the order added. */
  #compact(now: number): T[] {
    const entries = this.#entries;
    const expired: T[] = [];
    let kept = 0;
    for (let i = 0; i < entries.length; i++) {
      const entry = entries[i];
      if (entry === undefined) continue;
      if (entry.deadline <= now) {
        expired.push(entry);
        continue;
      }
      entry.sweepIndex = kept;
      entries[kept++] = entry;
    }
    entries.length = kept;
    this.#size = kept;
    return expired;
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
    const expired = this.#compact(this.#clock.now());
    let next = Number.POSITIVE_INFINITY;
    for (const entry of this.#entries) if (entry!.deadline < next) next = entry!.deadline;
    // Callbacks may add entries (and arm the timer) themselves; only arm when they did not arm earlier.
    for (const entry of expired) this.#onExpire(entry);
    if (next < this.#due && this.#size > 0) this.#arm(next);
  }
}
