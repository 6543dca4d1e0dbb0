/**
 * Time and randomness for the engine, injectable so failover, probing and timeout tests run fast
 * and deterministic.
 */
import { newSessionId } from "../protocol";

export interface Clock {
  /** Milliseconds on the Date.now() scale (request deadlines use it). */
  now(): number;
  /** Schedules `fn`; the returned handle goes back to clearTimer. Timers never keep the process alive. */
  setTimer(fn: () => void, ms: number): unknown;
  clearTimer(handle: unknown): void;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimer(fn, ms) {
    const timer = setTimeout(fn, Math.max(0, ms));
    timer.unref();
    return timer;
  },
  clearTimer(handle) {
    clearTimeout(handle as ReturnType<typeof setTimeout>);
  },
};

export interface Random {
  /** A session id for a new session: random 32 bits, never 0 (RFC 8907 §4.1). */
  sessionId(): number;
  /** A uniform fraction in [0, 1), for probe jitter. */
  fraction(): number;
}

export const systemRandom: Random = {
  sessionId: newSessionId,
  fraction: Math.random,
};
