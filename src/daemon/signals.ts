/**
 * The daemon's signals, ours from its first moment: before this, a SIGTERM or SIGHUP during
 * start-up (a server name still being looked up, listeners being created) took the default
 * action and killed the daemon without the clean path, leaving its socket files behind.
 * SIGTERM/SIGINT ask to stop once (later ones change nothing); a SIGHUP that arrives before the
 * daemon can reload is kept and runs once it can (the configuration may predate the edit).
 */
export const STOP_SIGNALS = ["SIGTERM", "SIGINT"] as const;
export type StopSignal = (typeof STOP_SIGNALS)[number];

/** Where the signals come from: `process`, or an EventEmitter in tests. */
export interface SignalSource {
  on(signal: StopSignal | "SIGHUP", listener: () => void): unknown;
}

export class DaemonSignals {
  readonly #stop = Promise.withResolvers<StopSignal>();
  #stopSignal: StopSignal | undefined;
  #reload: (() => void) | undefined;
  #reloadPending = false;

  constructor(source: SignalSource = process) {
    for (const signal of STOP_SIGNALS) {
      source.on(signal, () => {
        if (this.#stopSignal) return;
        this.#stopSignal = signal;
        this.#stop.resolve(signal);
      });
    }
    source.on("SIGHUP", () => {
      if (this.#stopSignal) return;
      if (this.#reload) this.#reload();
      else this.#reloadPending = true;
    });
  }

  /** The first stop signal, if one came. */
  get stopSignal(): StopSignal | undefined {
    return this.#stopSignal;
  }

  /** Resolves with the first stop signal. */
  get stopped(): Promise<StopSignal> {
    return this.#stop.promise;
  }

  /** `work`'s result, or undefined as soon as a stop signal comes (the work is abandoned). */
  unlessStopped<T>(work: Promise<T>): Promise<T | undefined> {
    return Promise.race([work, this.#stop.promise.then(() => undefined)]);
  }

  /** From now on SIGHUP calls `reload`; one that came earlier calls it now. */
  onReload(reload: () => void): void {
    this.#reload = reload;
    if (!this.#reloadPending) return;
    this.#reloadPending = false;
    reload();
  }
}
