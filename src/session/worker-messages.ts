/** The messages between the supervisor's main thread and its listener worker. */
import type { ExecTarget } from "./exec-target";

export interface WorkerStart {
  /** The seccomp listener fd (taken from the launcher with pidfd_getfd). */
  listener: number;
  /** Report the exits of processes that exec'd (for accounting STOPs; each costs a wake-up of both threads). */
  watchExits: boolean;
}

export type WorkerMessage =
  /** A held exec: `target` to decide on, or `failure` the kernel would report anyway. */
  | { type: "exec"; id: bigint; pid: number; atMs: number; target?: ExecTarget; failure?: { errno: number; message: string } }
  /** A process that exec'd has ended; `status` is its wait status, when it could be read. */
  | { type: "exit"; pid: number; status: number | undefined; atMs: number }
  /** No task holds the filter any more. */
  | { type: "idle" }
  | { type: "failed"; message: string };
