/**
 * How many spooled records the replay may have in flight: a delay-based window, a
 * less-than-best-effort sender in the manner of LEDBAT (RFC 6817). Pure: values in, value out.
 *
 * Replayed and live records share the collector's connection, its queue and the agent's event
 * loop, so the replay's own round-trip time is what live traffic waits for too. The window grows
 * by about one record per round trip while the round trip stays within `targetDelayMs` of the
 * lowest one seen lately (the base: no queue), as RFC 6817 §2.4.2 (cwnd += GAIN × off_target /
 * cwnd per acknowledgement). Above the target it shrinks faster than LEDBAT's linear decrease: by a
 * share of itself per round trip, up to half, so live traffic that queues up makes the backlog step
 * aside within a few round trips. A quiet collector is drained as fast as it answers.
 */

export interface PacingLimits {
  /** The largest window: a share of --max-sessions-in-flight. */
  maxWindow: number;
  /** Queuing delay (ms above the base round trip) the replay may add. */
  targetDelayMs: number;
}

export interface Pacing {
  /** Records that may be in flight (fractional; the sender uses its floor, at least 1). */
  window: number;
  /** Smoothed round trip, ms. */
  smoothedMs: number;
  /** Lowest round trip of the current and the previous base period (RFC 6817 §3.4.2: a base history). */
  baseMs: number;
  currentMinMs: number;
  previousMinMs: number;
  periodStartedAt: number;
}

/** Queuing delay the replay may add to a collector's round trip (live requests wait as long). */
export const REPLAY_TARGET_DELAY_MS = 1;
/** Replayed records a second at most while live requests are being answered (none while the live path is quiet). */
export const REPLAY_LIVE_PER_SECOND = 10_000;
/** The base is the minimum over one to two periods of this length, so it follows route or load changes. */
export const BASE_PERIOD_MS = 5_000;
/** RFC 6817 §2.5: GAIN ≤ 1 (no faster than standard TCP growth). */
const GAIN = 1;
/** Weight of a new sample in the smoothed round trip. */
const SMOOTHING = 1 / 8;
/** Above the target, each acknowledgement takes off this share of a record per target exceeded... */
const DECREASE = 0.25;
/** ...and at most half a record (a window at most halves per round trip). */
const MAX_DECREASE = 0.5;

export function initialPacing(now: number): Pacing {
  return { window: 1, smoothedMs: Number.NaN, baseMs: Infinity, currentMinMs: Infinity, previousMinMs: Infinity, periodStartedAt: now };
}

/** The window the sender may fill now. */
export function windowOf(pacing: Pacing): number {
  return Math.max(1, Math.floor(pacing.window));
}

/** A replayed record was delivered after `rttMs`: update the base, the smoothed delay and the window. */
export function delivered(pacing: Pacing, rttMs: number, now: number, limits: PacingLimits): Pacing {
  let { currentMinMs, previousMinMs, periodStartedAt } = pacing;
  if (now - periodStartedAt >= BASE_PERIOD_MS) {
    previousMinMs = currentMinMs;
    currentMinMs = Infinity;
    periodStartedAt = now;
  }
  currentMinMs = Math.min(currentMinMs, rttMs);
  const baseMs = Math.min(currentMinMs, previousMinMs);
  const smoothedMs = Number.isNaN(pacing.smoothedMs) ? rttMs : pacing.smoothedMs + SMOOTHING * (rttMs - pacing.smoothedMs);
  const offTarget = (limits.targetDelayMs - (smoothedMs - baseMs)) / limits.targetDelayMs;
  const step = offTarget >= 0 ? (GAIN * offTarget) / pacing.window : Math.max(-MAX_DECREASE, DECREASE * offTarget);
  const window = Math.min(limits.maxWindow, Math.max(1, pacing.window + step));
  return { window, smoothedMs, baseMs, currentMinMs, previousMinMs, periodStartedAt };
}

/** A replay failed: start again from one record (the base history is kept). */
export function failed(pacing: Pacing): Pacing {
  return { ...pacing, window: 1, smoothedMs: Number.NaN };
}
