/**
 * Commands still running, by pid, for their STOP records (`records=start-stop`): each exec's
 * START request once it is accounted. A command ends when its process exits (exit_group) or
 * execs another program (the pid lives on). Bounded: at most MAX_TRACKED_TASKS; beyond it the
 * oldest is forgotten (counted in `evicted`: its STOP will not be sent).
 */
export const MAX_TRACKED_TASKS = 65_536;

/** The START request of a command, once known (undefined: the command was not accounted). */
export type Started = Promise<Record<string, unknown> | undefined>;

export class TaskTracker {
  evicted = 0;
  readonly #tasks = new Map<number, Started>();

  constructor(readonly limit = MAX_TRACKED_TASKS) {}

  get size(): number {
    return this.#tasks.size;
  }

  /** A new command in `pid`; returns the command it replaces (ended by this exec), if tracked. */
  start(pid: number, started: Started): Started | undefined {
    const previous = this.end(pid);
    if (this.#tasks.size >= this.limit) {
      this.#tasks.delete(this.#tasks.keys().next().value!);
      this.evicted++;
    }
    this.#tasks.set(pid, started);
    return previous;
  }

  /** The command of `pid` ended; returns it if tracked. */
  end(pid: number): Started | undefined {
    const started = this.#tasks.get(pid);
    this.#tasks.delete(pid);
    return started;
  }
}
