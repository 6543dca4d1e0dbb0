/**
 * Cancellation of one request (the caller went away, the deadline passed, the agent shuts down).
 * An AbortController per call cost more than the rest of a call's bookkeeping (an EventTarget, a
 * signal, listener lists), so this keeps one listener at a time: a request waits for one upstream
 * exchange at a time, and each exchange replaces the listener of the one before.
 */
export type CancelListener = (reason: Error) => void;

export class Cancellation {
  #reason: Error | undefined;
  #listener: CancelListener | undefined;

  get cancelled(): boolean {
    return this.#reason !== undefined;
  }

  /** Why it was cancelled; undefined while it is not. */
  get reason(): Error | undefined {
    return this.#reason;
  }

  /** `listener` runs once on cancellation, unless replaced or removed before. */
  onCancel(listener: CancelListener): void {
    this.#listener = listener;
  }

  /** Removes `listener` if it is still the one that would run. */
  off(listener: CancelListener): void {
    if (this.#listener === listener) this.#listener = undefined;
  }

  /** Cancels (the first reason wins) and runs the listener. */
  cancel(reason: Error): void {
    if (this.#reason !== undefined) return;
    this.#reason = reason;
    const listener = this.#listener;
    this.#listener = undefined;
    listener?.(reason);
  }
}
