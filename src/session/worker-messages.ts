/** The messages between the supervisor's main thread and its listener worker. */
import type { ExecTarget } from "./exec-target";

export interface WorkerStart {
  /** The seccomp listener fd (taken from the launcher with pidfd_getfd). */
  listener: number;
  /**
   * The session accounts its commands: report the exits of processes that exec'd (for the STOPs;
   * each costs a wake-up of both threads) and the execs let go by the worker (for the STARTs).
   */
  accounting: boolean;
  /** The read end of the allowed-answer feed (allowed-feed.ts), or -1 without one. */
  feed: number;
  cacheTtlMs: number;
  cacheMaxEntries: number;
}

export type WorkerMessage =
  /** A held exec: `target` to decide on, or `failure` the kernel would report anyway; `answered`: the worker let it go on (a cached allowed answer). */
  | { type: "exec"; id: bigint; pid: number; atMs: number; target?: ExecTarget; failure?: { errno: number; message: string }; answered?: true }
  /** A process that exec'd has ended; `status` is its wait status, when it could be read. */
  | { type: "exit"; pid: number; status: number | undefined; atMs: number }
  /** No task holds the filter any more. */
  | { type: "idle" }
  | { type: "failed"; message: string };
