/**
 * Replays the spool, oldest first, once a server answers again.
 *
 * States, as a value: `idle` (nothing to send, or waiting for the next try), `probing` (one record
 * in flight to learn whether any server answers), `draining` (up to `window` records in flight).
 * A failure while draining stops new sends; once the records in flight settle, the failed ones
 * wait for the next try and are re-sent first, in order. A record that was delivered is never
 * sent again within a run, and none is skipped: acknowledgements advance over the delivered
 * prefix only. `pause()` stops new sends (the records in flight still settle and are
 * acknowledged); `resume()` goes on where it stopped.
 *
 * Live traffic keeps its latency because the window is paced by delay (pacing.ts, after RFC 6817):
 * it grows while replayed records come back as fast as they did without a queue, and shrinks as
 * soon as they (and so the live requests beside them) wait; it never exceeds `maxWindow`, a share
 * of --max-sessions-in-flight. A quiet collector is drained as fast as it answers. While live
 * requests are being answered (within the last LIVE_RECENT_MS), the replay also keeps to
 * `livePerSecond` records a second (a token bucket), so the agent, the collector and the callers
 * on a small host keep CPU time for live requests.
 */
import type { Logger } from "../common/log";
import type { Clock } from "../upstream/clock";
import { delivered as paceDelivered, failed as paceFailed, initialPacing, windowOf, type Pacing, type PacingLimits } from "./pacing";
import type { Spool, SpoolEntry } from "./spool";

/** First retry after a failed try; doubled after each failure up to MAX_RETRY_MS. */
export const FIRST_RETRY_MS = 250;
export const MAX_RETRY_MS = 5_000;

/** Sends one spooled record upstream; resolves true when a server took it. Never rejects. */
export type Deliver = (entry: SpoolEntry) => Promise<boolean>;

export type ReplayMode = "idle" | "probing" | "draining";

/** Live traffic answered this recently makes the replay keep to `livePerSecond`. */
export const LIVE_RECENT_MS = 250;
/** The rate bound is a token bucket holding at most this many milliseconds' worth of records. */
const BURST_MS = 2;

interface Slot {
  entry: SpoolEntry;
  state: "sending" | "done" | "failed";
  sentAt: number;
}

export interface ReplayStats {
  /** Records delivered from the spool since start. */
  replayed: number;
  /** Replay attempts that failed (the record stays spooled). */
  replayFailures: number;
  /** Records the replay may have in flight now (the paced window; 0 when idle). */
  replayWindow: number;
}

export class Replayer {
  readonly stats: ReplayStats = { replayed: 0, replayFailures: 0, replayWindow: 0 };
  #mode: ReplayMode = "idle";
  /** Handed out by the spool, not yet acknowledged, in order. */
  readonly #window: Slot[] = [];
  #inFlight = 0;
  #stalled = false;
  #retryMs = FIRST_RETRY_MS;
  #timer: unknown;
  #closed = false;
  #paused = false;
  #pacing: Pacing;
  /** When live traffic was last answered (roundTripClock), and the rate bound's tokens as of `#tokensAt`. */
  #liveAt = -Infinity;
  #tokens = 0;
  #tokensAt = -Infinity;
  #sliceTimer: unknown;

  constructor(
    private readonly spool: Spool,
    private readonly deliver: Deliver,
    /** `roundTripClock`: milliseconds with sub-millisecond resolution (loopback round trips are well below 1 ms). */
    private readonly options: PacingLimits & { livePerSecond: number; clock: Clock; roundTripClock: () => number; log: Logger },
  ) {
    this.#pacing = initialPacing(options.roundTripClock());
  }

  get mode(): ReplayMode {
    return this.#mode;
  }

  /** Something was spooled: make sure a try is scheduled. */
  wake(): void {
    if (this.#mode === "idle" && this.#timer === undefined && !this.#closed && !this.#paused) this.#schedule(this.#stalled ? this.#retryMs : 0);
  }

  /** No new sends until `resume()` (the collector left the configuration); what is in flight settles. */
  pause(): void {
    this.#paused = true;
    this.#cancelTimer();
  }

  /** Sends again from the first record not delivered (after the first retry delay when the last try failed). */
  resume(): void {
    if (!this.#paused) return;
    this.#paused = false;
    this.#retryMs = FIRST_RETRY_MS;
    this.wake();
  }

  /** A server answered live traffic: drain now instead of waiting for the backoff, at the live rate bound for a while. */
  nudge(): void {
    this.#liveAt = this.options.roundTripClock();
    if (this.#mode !== "idle" || this.#closed || this.#paused || (this.spool.records === 0 && this.#window.length === 0)) return;
    this.#cancelTimer();
    this.#retryMs = FIRST_RETRY_MS;
    this.#pump("draining");
  }

  close(): void {
    this.#closed = true;
    this.#cancelTimer();
    if (this.#sliceTimer !== undefined) this.options.clock.clearTimer(this.#sliceTimer);
  }

  /** A try on the timer probes first: records were spooled because no server answered. */
  #schedule(ms: number): void {
    this.#timer = this.options.clock.setTimer(() => {
      this.#timer = undefined;
      this.#pump("probing");
    }, ms);
  }

  #cancelTimer(): void {
    if (this.#timer !== undefined) this.options.clock.clearTimer(this.#timer);
    this.#timer = undefined;
  }

  /** Sends what the mode allows: one record while probing, the paced window while draining. */
  #pump(from: ReplayMode = this.#mode): void {
    if (this.#closed) return;
    if (this.#paused) {
      if (this.#inFlight === 0) this.#settle();
      return;
    }
    if (this.#mode === "idle") this.#mode = from;
    this.#stalled = false;
    const limit = this.#mode === "probing" ? 1 : windowOf(this.#pacing);
    this.stats.replayWindow = limit;
    while (this.#inFlight < limit && !this.#stalled) {
      if (!this.#withinLiveRate()) break;
      const slot = this.#window.find((candidate) => candidate.state === "failed") ?? this.#take();
      if (!slot) break;
      this.#send(slot);
    }
    // Waiting for the next token is still draining.
    if (this.#inFlight === 0 && this.#sliceTimer === undefined) this.#settle();
  }

  /**
   * True when one more record may go now: no live traffic lately, or a token (taken). Else a timer
   * resumes when the next token is due. Tokens accrue for the time elapsed, so late timers do not
   * lower the rate.
   */
  #withinLiveRate(): boolean {
    const now = this.options.roundTripClock();
    if (now - this.#liveAt > LIVE_RECENT_MS) return true;
    const perMs = this.options.livePerSecond / 1000;
    this.#tokens = Math.min(perMs * BURST_MS, this.#tokens + (now - this.#tokensAt) * perMs);
    this.#tokensAt = now;
    if (this.#tokens >= 1) {
      this.#tokens--;
      return true;
    }
    this.#sliceTimer ??= this.options.clock.setTimer(() => {
      this.#sliceTimer = undefined;
      if (this.#mode === "draining" && !this.#stalled) this.#pump();
    }, Math.max(1, Math.ceil((1 - this.#tokens) / perMs)));
    return false;
  }

  #take(): Slot | undefined {
    const entry = this.spool.next();
    if (!entry) return undefined;
    const slot: Slot = { entry, state: "sending", sentAt: 0 };
    this.#window.push(slot);
    return slot;
  }

  #send(slot: Slot): void {
    slot.state = "sending";
    slot.sentAt = this.options.roundTripClock();
    this.#inFlight++;
    void this.deliver(slot.entry).then((delivered) => this.#sent(slot, delivered));
  }

  #sent(slot: Slot, delivered: boolean): void {
    this.#inFlight--;
    slot.state = delivered ? "done" : "failed";
    if (delivered) {
      this.stats.replayed++;
      const now = this.options.roundTripClock();
      this.#pacing = paceDelivered(this.#pacing, now - slot.sentAt, now, this.options);
      while (this.#window[0]?.state === "done") this.spool.acknowledge(this.#window.shift()!.entry);
      if (this.#mode === "probing") {
        this.#mode = "draining";
        this.options.log.info(`accounting spool: a server answered; delivering ${this.spool.records} spooled record(s)`);
      }
      this.#retryMs = FIRST_RETRY_MS;
    } else {
      this.stats.replayFailures++;
      this.#pacing = paceFailed(this.#pacing);
      this.#stalled = true;
    }
    if (this.#closed) return;
    if (!this.#stalled) return this.#pump();
    if (this.#inFlight === 0) this.#settle();
  }

  /** Nothing in flight: wait for the next try (after a failure), for new records, or done. */
  #settle(): void {
    this.#mode = "idle";
    this.stats.replayWindow = 0;
    if (this.#stalled && !this.#paused) {
      const delay = this.#retryMs;
      this.#retryMs = Math.min(this.#retryMs * 2, MAX_RETRY_MS);
      this.#schedule(delay);
    }
  }
}
