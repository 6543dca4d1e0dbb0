/**
 * The audit plugin's pipeline: auditd's record stream → lines → exec events → a bounded queue →
 * the agent (session lookup, then one Accounting call per exec, several in flight).
 *
 * Reading never waits for the agent: auditd suspends or kills a plugin that does not keep up,
 * so a full queue drops events (counted) instead. An unreachable agent keeps the event at the
 * head of the queue and pauses the sender for RETRY_PAUSE_MS; an agent that answers with an
 * error (no server reachable, a refused record) counts the event as failed.
 */
import { accountingRequest, type SessionInfo } from "./accounting";
import { DEFAULT_ASSEMBLER_OPTIONS, EventAssembler } from "./assembler";
import type { ExecEvent } from "./exec-event";
import { LineSplitter } from "./line-splitter";
import { BoundedQueue } from "./queue";
import { RateLimitedLog } from "./rate-limited-log";
import { SessionResolver, type Accounts, type FallbackPolicy } from "./sessions";

/** A record line auditd writes is at most ~9 KiB (MAX_AUDIT_MESSAGE_LENGTH plus enrichment). */
export const MAX_LINE_BYTES = 64 * 1024;
export const RETRY_PAUSE_MS = 1000;
export const LOG_INTERVAL_MS = 10_000;

export interface PluginOptions {
  /** The audit rule key of our exec events (undefined: any). */
  key: string | undefined;
  fallback: FallbackPolicy;
  maxQueue: number;
  /** Calls to the agent in flight at once. */
  concurrency: number;
  callTimeoutMs: number;
}

/** The agent's API as the plugin uses it (ApiClient.call); ApiCallError.unreachable marks a retry. */
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
}

function isUnreachable(error: unknown): boolean {
  return (error as { unreachable?: boolean }).unreachable === true;
}

export class AuditPlugin {
  readonly #counters = { eventsRead: 0, accounted: 0, skipped: 0, malformed: 0, failed: 0 };
  readonly #splitter: LineSplitter;
  readonly #assembler: EventAssembler;
  readonly #queue: BoundedQueue<ExecEvent>;
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
      line: (text) => this.#assembler.push(text),
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
    if (!event.success || event.args.length === 0) {
      this.#counters.skipped++;
      return;
    }
    if (!this.#queue.push(event)) {
      this.#log.log("dropped", `tacacsrs-audit-plugin: queue full (${this.options.maxQueue} events): dropped an exec of login uid ${event.auid}`);
      return;
    }
    this.#pump();
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
      const event = this.#queue.shift()!;
      this.#inFlight++;
      void this.#send(event).finally(() => {
        this.#inFlight--;
        this.#pump();
        if (this.#queue.length + this.#inFlight === 0) this.#idle?.();
      });
    }
  }

  async #send(event: ExecEvent): Promise<void> {
    try {
      const resolution = await this.#resolver.resolve(event);
      if ("skip" in resolution) {
        this.#counters.skipped++;
        return;
      }
      const reply = await this.api.call("Accounting", accountingRequest(event, resolution.session), this.options.callTimeoutMs);
      const response = reply.response as { status?: string } | undefined;
      if (reply.result === "response" && response?.status === "ACCOUNTING_STATUS_SUCCESS") {
        this.#counters.accounted++;
        return;
      }
      this.#counters.failed++;
      const why = reply.result === "error" ? (reply.error as { message: string }).message : `status ${response?.status}`;
      this.#log.log("failed", `tacacsrs-audit-plugin: accounting of an exec by ${JSON.stringify(resolution.session.user)} failed: ${why}`);
    } catch (error) {
      if (isUnreachable(error)) {
        // The agent is down or restarting: keep the event and try again shortly.
        this.#queue.unshift(event);
        this.#pausedUntil = this.now() + RETRY_PAUSE_MS;
        this.#log.log("unreachable", `tacacsrs-audit-plugin: ${(error as Error).message}; retrying`);
        return;
      }
      this.#counters.failed++;
      this.#log.log("failed", `tacacsrs-audit-plugin: accounting failed: ${(error as Error).message}`);
    }
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
