/**
 * Per-command accounting (RFC 8907 §7.2): START when an authorized exec goes ahead, STOP when
 * that program ends (its process exits, or execs another program), with elapsed_time and the
 * exit status. Each command has its own task_id; its STOP is sent after its START completed, so
 * a server sees them in order. Failed records are counted, never retried (the agent already
 * fails over between servers).
 */
import type { AgentApi } from "./authorizer";
import type { ExecTarget } from "./exec-target";
import { accountingRequest, shellStatus, type SessionIdentity } from "./requests";

/** Commands tracked at once (one per running process of the session). */
export const MAX_RUNNING_COMMANDS = 4096;

interface Running {
  taskId: string;
  target: ExecTarget;
  startMs: number;
  started: Promise<void>;
}

export interface AccountingCounters {
  starts: number;
  stops: number;
  stopsWithoutStatus: number;
  failed: number;
  untracked: number;
  running: number;
  /** Records sent and not answered yet. */
  pending: number;
}

export class CommandAccounting {
  readonly #running = new Map<number, Running>();
  readonly #pending = new Set<Promise<void>>();
  readonly #counters = { starts: 0, stops: 0, stopsWithoutStatus: 0, failed: 0, untracked: 0 };
  #next = 0;

  constructor(
    private readonly api: AgentApi,
    private readonly session: SessionIdentity,
    /** Unique per session, e.g. "<supervisor pid>.<start time>"; task_id = "<taskBase>-<n>". */
    private readonly taskBase: string,
    private readonly timeoutMs: number,
  ) {}

  /** Process `pid` now runs `target` (its exec was allowed). */
  started(pid: number, target: ExecTarget, atMs: number): void {
    // An exec replaces the program the process ran before: that command ends here.
    this.ended(pid, undefined, atMs);
    const taskId = `${this.taskBase}-${++this.#next}`;
    const started = this.#send(accountingRequest(this.session, target, taskId, atMs));
    this.#counters.starts++;
    if (this.#running.size >= MAX_RUNNING_COMMANDS) {
      this.#counters.untracked++;
      return;
    }
    this.#running.set(pid, { taskId, target, startMs: atMs, started });
  }

  /** Process `pid` ended with `waitStatus` (undefined: unknown, or it exec'd again). */
  ended(pid: number, waitStatus: number | undefined, atMs: number): void {
    const command = this.#running.get(pid);
    if (command === undefined) return;
    this.#running.delete(pid);
    const status = waitStatus === undefined ? undefined : shellStatus(waitStatus);
    if (status === undefined) this.#counters.stopsWithoutStatus++;
    this.#counters.stops++;
    const request = accountingRequest(this.session, command.target, command.taskId, command.startMs, { stopTimeMs: atMs, elapsedMs: atMs - command.startMs, status });
    this.#track(command.started.then(() => this.#send(request)));
  }

  #send(request: object): Promise<void> {
    return this.#track(
      this.api.call("Accounting", request, this.timeoutMs).then(
        (reply) => {
          const status = (reply.response as { status?: string } | undefined)?.status;
          if (reply.result !== "response" || status !== "ACCOUNTING_STATUS_SUCCESS") this.#counters.failed++;
        },
        () => void this.#counters.failed++,
      ),
    );
  }

  #track(promise: Promise<void>): Promise<void> {
    this.#pending.add(promise);
    void promise.finally(() => this.#pending.delete(promise));
    return promise;
  }

  /** Whether a command is tracked whose process `alive` says is gone. */
  anyGone(alive: (pid: number) => boolean): boolean {
    for (const pid of this.#running.keys()) if (!alive(pid)) return true;
    return false;
  }

  /** Sends the STOP (without status) of every command whose process `alive` says is gone. */
  endGone(alive: (pid: number) => boolean, atMs: number): void {
    for (const pid of [...this.#running.keys()]) if (!alive(pid)) this.ended(pid, undefined, atMs);
  }

  /** Waits for the records in flight, at most `graceMs`. */
  async flush(graceMs: number): Promise<void> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const deadline = new Promise<void>((resolve) => (timer = setTimeout(resolve, graceMs)));
    while (this.#pending.size > 0) {
      const done = await Promise.race([Promise.all(this.#pending).then(() => true), deadline.then(() => false)]);
      if (!done) break;
    }
    clearTimeout(timer);
  }

  counters(): AccountingCounters {
    return { ...this.#counters, running: this.#running.size, pending: this.#pending.size };
  }
}
