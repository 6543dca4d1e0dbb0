/**
 * Assembles exec events from audit records by their serial (pure; time comes from the records).
 * Records of several events may interleave. An event starts with its SYSCALL record (the kernel
 * writes it first) whose key is ours, collects EXECVE and CWD records, and ends with EOE.
 * Every other record type, and records of events that did not start with our SYSCALL, are
 * skipped after a prefix check, without parsing.
 *
 * Bounds: at most `maxPending` events are open; beyond it, or when an event is `maxAgeMs` older
 * than the newest record (its EOE was lost), the oldest is closed as it is: emitted when its
 * argv is complete, else counted as incomplete.
 */
import { ArgvBuilder, cwdOf, syscallPart, type ExecEvent } from "./exec-event";
import { parseRecord, RecordError, recordType } from "./record";

export interface AssemblerOptions {
  /** Only events whose SYSCALL record carries this key (the audit rule's -k); undefined: any key. */
  key: string | undefined;
  maxPending: number;
  maxAgeMs: number;
}

export const DEFAULT_ASSEMBLER_OPTIONS: AssemblerOptions = { key: "tacacsrs-exec", maxPending: 1024, maxAgeMs: 10_000 };

export type Problem = "malformed" | "incomplete";

export interface AssemblerSink {
  event(event: ExecEvent): void;
  /** A record or event that could not be used, with why (for a counted, rate-limited log line). */
  problem(kind: Problem, reason: string): void;
}

interface Pending {
  serial: number;
  timeMs: number;
  syscall: ReturnType<typeof syscallPart>;
  argv: ArgvBuilder;
  cwd: string | undefined;
  /** A record of this event was malformed: it is dropped at its end. */
  broken: string | undefined;
}

const WANTED = new Set(["SYSCALL", "EXECVE", "CWD", "EOE"]);

export class EventAssembler {
  /** Records read, and those skipped without parsing. */
  readonly counters = { records: 0, skipped: 0 };
  /** Open events in arrival order (oldest first). */
  readonly #pending = new Map<number, Pending>();

  constructor(
    private readonly options: AssemblerOptions,
    private readonly sink: AssemblerSink,
  ) {}

  get pending(): number {
    return this.#pending.size;
  }

  /** One record line (without its newline). */
  push(line: string): void {
    this.counters.records++;
    const type = recordType(line);
    if (!WANTED.has(type)) {
      if (type === "") this.sink.problem("malformed", "a line that is not an audit record");
      else this.counters.skipped++;
      return;
    }
    let record;
    try {
      record = parseRecord(line);
    } catch (error) {
      this.sink.problem("malformed", (error as Error).message);
      return;
    }
    if (type === "SYSCALL") {
      this.#start(record.serial, record.timeMs, record.body, record.enriched);
      return;
    }
    const pending = this.#pending.get(record.serial);
    if (pending === undefined) {
      this.counters.skipped++;
      return;
    }
    if (type === "EOE") {
      this.#close(pending, false);
      return;
    }
    if (pending.broken !== undefined) return;
    try {
      if (type === "EXECVE") pending.argv.add(record.body);
      else pending.cwd = cwdOf(record.body);
    } catch (error) {
      if (!(error instanceof RecordError)) throw error;
      pending.broken = `${type} record: ${error.message}`;
    }
  }

  /** Closes every open event (end of input). */
  flush(): void {
    for (const pending of [...this.#pending.values()]) this.#close(pending, true);
  }

  #start(serial: number, timeMs: number, body: string, enriched: string): void {
    // A key check before parsing the whole record: most SYSCALL records are someone else's.
    if (this.options.key !== undefined && !body.includes(` key="${this.options.key}"`)) {
      this.counters.skipped++;
      return;
    }
    let syscall;
    try {
      syscall = syscallPart(body, enriched);
    } catch (error) {
      if (!(error instanceof RecordError)) throw error;
      this.sink.problem("malformed", error.message);
      return;
    }
    this.#expire(timeMs);
    this.#pending.delete(serial);
    this.#pending.set(serial, { serial, timeMs, syscall, argv: new ArgvBuilder(), cwd: undefined, broken: undefined });
  }

  /** Closes the oldest events when too many are open or they are too old (their EOE was lost). */
  #expire(now: number): void {
    for (const pending of this.#pending.values()) {
      if (this.#pending.size < this.options.maxPending && now - pending.timeMs < this.options.maxAgeMs) return;
      this.#close(pending, true);
    }
  }

  #close(pending: Pending, early: boolean): void {
    this.#pending.delete(pending.serial);
    if (pending.broken !== undefined) {
      this.sink.problem("malformed", `event ${pending.serial}: ${pending.broken}`);
      return;
    }
    // No EXECVE record at all (a failed exec, another syscall): an event the policy skips.
    if (pending.argv.argc >= 0 && !pending.argv.complete) {
      this.sink.problem("incomplete", `event ${pending.serial}: ${early ? "no end of event (EOE) and " : ""}its arguments are incomplete`);
      return;
    }
    this.sink.event(this.#event(pending));
  }

  #event(pending: Pending): ExecEvent {
    const args = pending.argv.argc < 0 ? [] : pending.argv.kept();
    return { serial: pending.serial, timeMs: pending.timeMs, ...pending.syscall, cwd: pending.cwd, argc: Math.max(0, pending.argv.argc), args };
  }
}
