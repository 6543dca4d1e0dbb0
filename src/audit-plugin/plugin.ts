/**
 * The audit plugin's pipeline: auditd's record stream → lines → exec events → a bounded queue →
 * the agent (session lookup, then one Accounting call per exec, several in flight).
 *
 * Reading never waits for the agent: auditd suspends or kills a plugin that does not keep up,
 * so a full queue drops events (counted) instead. An unreachable agent keeps the event at the
 * head of the queue and pauses the sender for RETRY_PAUSE_MS; an agent that answers with an
 * error (no server reachable, a refused record) counts the event as failed.
 *
 * Records: one STOP per exec by default (command accounting, as routers do); with
 * `records: "start-stop"` a START per exec and a STOP with the same task_id when the command
 * ends (its process exits, which needs exit_group in the audit rules, or execs another program).
 */
import { accountingRequest, stopRequest, type SessionInfo } from "./accounting";
import { DEFAULT_ASSEMBLER_OPTIONS, EventAssembler } from "./assembler";
import type { ExecEvent } from "./exec-event";
import { LineSplitter } from "./line-splitter";
import { BoundedQueue } from "./queue";
import { RateLimitedLog } from "./rate-limited-log";
import { SessionResolver, type Accounts, type FallbackPolicy } from "./sessions";
import { TaskTracker, type Started } from "./tasks";

/** A record line auditd writes is at most ~9 KiB (MAX_AUDIT_MESSAGE_LENGTH plus enrichment). */
export const MAX_LINE_BYTES = 64 * 1024;
export const RETRY_PAUSE_MS = 1000;
export const LOG_INTERVAL_MS = 10_000;

export interface PluginOptions {
  /** The audit rule key of our exec events (undefined: any). */
  key: string | undefined;
  fallback: FallbackPolicy;
  maxQueue: number;
  /** "stop": one STOP per exec; "start-stop": START at exec, STOP when the command ends. */
  records: "stop" | "start-stop";
  /** Calls to the agent in flight at once. */
  concurrency: number;
  callTimeoutMs: number;
}

/** The agent's API as the plugin uses it (DirectApiClient.call); ApiCallError.unreachable marks a retry. */
export interface AgentApi {
  call(method: "LookupAuditSession" | "Accounting" | "ReportAuditPlugin", request: object, timeoutMs: number): Promise<Record<string, unknown>>;
}

export interface PluginCounters {
  recordsRead: number;
  eventsRead: number;
  accounted: number;
  skipped: number;
  malformed: number;
  dropped: number;
  failed: number;
  queueDepth: number;
  /** Running commands remembered for their STOP (start-stop), and those forgotten at the bound. */
  tasksTracked: number;
  tasksEvicted: number;
}

/** Tells a command's STOP what its START sent (undefined: the command was not accounted). */
type StartedCallback = (start: Record<string, unknown> | undefined) => void;
/** Work for the sender: an exec to resolve and account, or a STOP. */
type Job = { event: ExecEvent; started: StartedCallback | undefined } | { stop: Record<string, unknown> };

function isUnreachable(error: unknown): boolean {
  return (error as { unreachable?: boolean }).unreachable === true;
}

export class AuditPlugin {
  readonly #counters = { eventsRead: 0, accounted: 0, skipped: 0, malformed: 0, failed: 0 };
  readonly #splitter: LineSplitter;
  readonly #assembler: EventAssembler;
  readonly #queue: BoundedQueue<Job>;
  readonly #tasks = new TaskTracker();
  readonly #resolver: SessionResolver;
  readonly #log: RateLimitedLog;
  #inFlight = 0;
  #pausedUntil = 0;
  #pauseTimer: ReturnType<typeof setTimeout> | undefined;
  #idle: (() => void) | undefined;

  constructor(
    private readonly api: AgentApi,
    accounts: Accounts,
    private readonly options: PluginOptions,
    write: (line: string) => void,
    private readonly now: () => number = Date.now,
  ) {
    this.#log = new RateLimitedLog(write, LOG_INTERVAL_MS, now);
    this.#queue = new BoundedQueue(options.maxQueue);
    this.#resolver = new SessionResolver((ses, auid, timeMs) => this.#lookup(ses, auid, timeMs), options.fallback, accounts, now);
    this.#assembler = new EventAssembler(
      { ...DEFAULT_ASSEMBLER_OPTIONS, key: options.key },
      {
        event: (event) => this.#accept(event),
        problem: (kind, reason) => {
          this.#counters.malformed++;
          this.#log.log(kind, `tacacsrs-audit-plugin: skipped ${kind === "malformed" ? "a malformed record" : "an incomplete event"}: ${reason}`);
        },
      },
    );
    this.#splitter = new LineSplitter(MAX_LINE_BYTES, {
      line: (text) => {
        // A defect of ours on one record must not stop the plugin (auditd would restart it, losing events).
        try {
          this.#assembler.push(text);
        } catch (error) {
          this.#counters.malformed++;
          this.#log.log("internal", `tacacsrs-audit-plugin: internal error on a record, skipped: ${(error as Error).message}`);
        }
      },
      oversized: (bytes) => {
        this.#counters.malformed++;
        this.#log.log("oversized", `tacacsrs-audit-plugin: skipped a ${bytes}-byte line (the limit is ${MAX_LINE_BYTES})`);
      },
    });
  }

  counters(): PluginCounters {
    return {
      recordsRead: this.#assembler.counters.records,
      ...this.#counters,
      dropped: this.#queue.dropped,
      queueDepth: this.#queue.length + this.#inFlight,
      tasksTracked: this.#tasks.size,
      tasksEvicted: this.#tasks.evicted,
    };
  }

  /** Bytes from auditd. */
  read(chunk: Uint8Array): void {
    this.#splitter.push(chunk);
  }

  /** End of input: open events are closed; resolves when the queue is empty or after `graceMs`. */
  async finish(graceMs: number): Promise<void> {
    this.#splitter.end();
    this.#assembler.flush();
    if (this.#queue.length + this.#inFlight === 0) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, graceMs);
      this.#idle = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }

  #accept(event: ExecEvent): void {
    this.#counters.eventsRead++;
    const startStop = this.options.records === "start-stop";
    if (event.exitStatus !== undefined) {
      const ended = startStop ? this.#tasks.end(event.pid) : undefined;
      if (ended === undefined) this.#counters.skipped++;
      else this.#stopWhenStarted(ended, event.timeMs, true);
      return;
    }
    if (!event.success || event.args.length === 0) {
      this.#counters.skipped++;
      return;
    }
    let started: StartedCallback | undefined;
    if (startStop) {
      const task: Started = new Promise((resolve) => (started = resolve));
      // An exec ends the program the process ran before: that command's STOP.
      const replaced = this.#tasks.start(event.pid, task);
      if (replaced !== undefined) this.#stopWhenStarted(replaced, event.timeMs, false);
    }
    if (!this.#enqueue({ event, started })) started?.(undefined);
  }

  /** Queues the STOP of a command once its START is known; `counted`: it stands for an exit event. */
  #stopWhenStarted(task: Started, timeMs: number, counted: boolean): void {
    void task.then((start) => {
      if (start !== undefined) this.#enqueue({ stop: stopRequest(start, timeMs) });
      else if (counted) this.#counters.skipped++;
    });
  }

  #enqueue(job: Job): boolean {
    if (!this.#queue.push(job)) {
      this.#log.log("dropped", `tacacsrs-audit-plugin: queue full (${this.options.maxQueue} events): dropped ${"stop" in job ? "a STOP record" : `an exec of login uid ${job.event.auid}`}`);
      return false;
    }
    this.#pump();
    return true;
  }

  #pump(): void {
    while (this.#inFlight < this.options.concurrency && this.#queue.length > 0) {
      const wait = this.#pausedUntil - this.now();
      if (wait > 0) {
        this.#pauseTimer ??= setTimeout(() => {
          this.#pauseTimer = undefined;
          this.#pump();
        }, wait);
        return;
      }
      const job = this.#queue.shift()!;
      this.#inFlight++;
      void this.#send(job).finally(() => {
        this.#inFlight--;
        this.#pump();
        if (this.#queue.length + this.#inFlight === 0) this.#idle?.();
      });
    }
  }

  async #send(job: Job): Promise<void> {
    try {
      if ("stop" in job) {
        await this.#account(job.stop);
        return;
      }
      const { event, started } = job;
      const resolution = await this.#resolver.resolve(event);
      if ("skip" in resolution) {
        this.#counters.skipped++;
        started?.(undefined);
        return;
      }
      const request = accountingRequest(event, resolution.session, started === undefined ? "ACCOUNTING_RECORD_TYPE_STOP" : "ACCOUNTING_RECORD_TYPE_START");
      const accounted = await this.#account(request);
      started?.(accounted ? request : undefined);
    } catch (error) {
      if (isUnreachable(error)) {
        // The agent is down or restarting: keep the job and try again shortly.
        this.#queue.unshift(job);
        this.#pausedUntil = this.now() + RETRY_PAUSE_MS;
        this.#log.log("unreachable", `tacacsrs-audit-plugin: ${(error as Error).message}; retrying`);
        return;
      }
      this.#counters.failed++;
      if (!("stop" in job)) job.started?.(undefined);
      this.#log.log("failed", `tacacsrs-audit-plugin: accounting failed: ${(error as Error).message}`);
    }
  }

  /** One Accounting call; false (counted, logged) when the agent or the server refused it. */
  async #account(request: Record<string, unknown>): Promise<boolean> {
    const reply = await this.api.call("Accounting", request, this.options.callTimeoutMs);
    const response = reply.response as { status?: string } | undefined;
    if (reply.result === "response" && response?.status === "ACCOUNTING_STATUS_SUCCESS") {
      this.#counters.accounted++;
      return true;
    }
    this.#counters.failed++;
    const why = reply.result === "error" ? (reply.error as { message: string }).message : `status ${response?.status}`;
    this.#log.log("failed", `tacacsrs-audit-plugin: accounting of a command by ${JSON.stringify(request.user)} failed: ${why}`);
    return false;
  }

  async #lookup(ses: number, auid: number, eventTimeMs: number): Promise<SessionInfo | undefined> {
    const reply = await this.api.call("LookupAuditSession", { sessionId: ses, loginUid: auid, eventTimeMs }, this.options.callTimeoutMs);
    return reply.found === true ? (reply.session as SessionInfo) : undefined;
  }

  /** Sends the counters to the agent (shown by `tacon status`); failures are ignored. */
  async report(): Promise<void> {
    await this.api.call("ReportAuditPlugin", this.counters(), this.options.callTimeoutMs).catch(() => undefined);
  }
}
