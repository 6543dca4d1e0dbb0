/**
 * An exec as the audit plugin accounts it, built from one event's records (pure): the SYSCALL
 * record (who: auid, ses, uid, tty, pid; success), the EXECVE records (argv), the CWD record.
 *
 * EXECVE arguments come as aN="text" or aN=HEX, or, when long, as aN_len=LEN followed by chunks
 * aN[0]=... aN[1]=... that may continue in further EXECVE records of the same event
 * (kernel/auditsc.c audit_log_execve_info). Arguments are decoded as they arrive and only what
 * TACACS+ can carry is kept (MAX_KEPT_ARGS arguments of MAX_KEPT_ARG_BYTES bytes each), so an
 * event's memory is bounded whatever the command line.
 */
import { MAX_KEPT_ARG_BYTES, MAX_KEPT_ARGS, type CommandArg } from "../protocol/command-args";
import { numberField, parseFields, RecordError, untrustedBytes, untrustedString } from "./record";

/** The kernel's "unset" auid and ses. */
export const UNSET = 0xffff_ffff;

export interface ExecEvent {
  serial: number;
  timeMs: number;
  auid: number;
  ses: number;
  uid: number;
  pid: number;
  ppid: number;
  /** "pts0", or undefined for "(none)". */
  tty: string | undefined;
  success: boolean;
  /** The process ended (exit_group), with this status: an event without argv. */
  exitStatus: number | undefined;
  exe: string | undefined;
  key: string | undefined;
  /** auditd's enriched AUID (the login user's name), when it resolved one. */
  auidName: string | undefined;
  cwd: string | undefined;
  argc: number;
  /** The first MAX_KEPT_ARGS arguments (fewer than argc for longer command lines). */
  args: CommandArg[];
}

/** The EXECVE side of an event being assembled. */
export class ArgvBuilder {
  argc = -1;
  readonly args: (CommandArg | undefined)[] = [];
  /**
   * Chunked arguments (aN_len) by index: the announced length, and what arrived. The kernel
   * announces the length as written: hex digits for an encoded argument, bytes for a quoted one.
   */
  readonly #chunked = new Map<number, { expected: number; received: number }>();

  /** Adds one EXECVE record's fields; throws RecordError on malformed ones. */
  add(body: string): void {
    for (const [name, value] of parseFields(body)) {
      if (name === "argc") {
        if (!/^\d{1,7}$/.test(value)) throw new RecordError("bad argc");
        this.argc = Number(value);
        continue;
      }
      const match = /^a(\d{1,7})(?:_len|\[(\d{1,7})\])?$/.exec(name);
      if (match === null) continue;
      const index = Number(match[1]);
      if (name.endsWith("_len")) {
        if (!/^\d{1,9}$/.test(value)) throw new RecordError(`bad ${name}`);
        this.#chunked.set(index, { expected: Number(value), received: 0 });
        this.#append(index, new Uint8Array(0));
      } else if (match[2] !== undefined) {
        const chunked = this.#chunked.get(index);
        if (chunked === undefined) throw new RecordError(`${name} without a${index}_len`);
        const bytes = untrustedBytes(value) ?? new Uint8Array(0);
        chunked.received += value.startsWith('"') ? bytes.length : value.length;
        this.#append(index, bytes);
      } else {
        this.#append(index, untrustedBytes(value) ?? new Uint8Array(0));
      }
    }
  }

  #append(index: number, chunk: Uint8Array): void {
    const arg = this.args[index];
    if (arg === undefined) {
      if (index >= MAX_KEPT_ARGS) {
        // Beyond what is kept: remember only that it came (a sparse slot with its length).
        this.args[index] = { bytes: new Uint8Array(0), length: chunk.length };
        return;
      }
      this.args[index] = { bytes: chunk.subarray(0, MAX_KEPT_ARG_BYTES).slice(), length: chunk.length };
      return;
    }
    if (arg.bytes.length < MAX_KEPT_ARG_BYTES && index < MAX_KEPT_ARGS) {
      const room = MAX_KEPT_ARG_BYTES - arg.bytes.length;
      const joined = new Uint8Array(arg.bytes.length + Math.min(room, chunk.length));
      joined.set(arg.bytes);
      joined.set(chunk.subarray(0, room), arg.bytes.length);
      arg.bytes = joined;
    }
    arg.length += chunk.length;
  }

  /** True when argc is known and every argument arrived whole. */
  get complete(): boolean {
    if (this.argc < 0) return false;
    for (let i = 0; i < this.argc; i++) {
      const arg = this.args[i];
      if (arg === undefined) return false;
      const chunked = this.#chunked.get(i);
      if (chunked !== undefined && chunked.received !== chunked.expected) return false;
    }
    return true;
  }

  kept(): CommandArg[] {
    return this.args.slice(0, Math.min(this.argc, MAX_KEPT_ARGS)) as CommandArg[];
  }
}

/** exit_group(2) by the record's arch (AUDIT_ARCH_*): x86_64 231, i386 252, aarch64 94, arm 248. */
const EXIT_GROUP: Record<string, number> = { c000003e: 231, "40000003": 252, c00000b7: 94, "40000028": 248 };

/** The status of an exit_group call (its first argument, hex in the record), else undefined. */
export function exitGroupStatus(fields: Map<string, string>): number | undefined {
  const arch = fields.get("arch");
  const syscall = fields.get("syscall");
  if (arch === undefined || syscall === undefined || EXIT_GROUP[arch] !== Number(syscall)) return undefined;
  const a0 = fields.get("a0") ?? "0";
  return /^[0-9a-f]{1,16}$/.test(a0) ? Number.parseInt(a0.slice(-2), 16) : 0;
}

/** The login user's name from auditd's enriched AUID="name" (not "unset" or "unknown(N)"). */
export function enrichedAuid(enriched: string): string | undefined {
  const match = /(?:^| )AUID="([^"]*)"/.exec(enriched);
  const name = match?.[1];
  if (name === undefined || name === "" || name === "unset" || name.startsWith("unknown(")) return undefined;
  return name;
}

/** The event's SYSCALL part; throws RecordError when a required field is missing. */
export function syscallPart(body: string, enriched: string): Omit<ExecEvent, "serial" | "timeMs" | "cwd" | "argc" | "args"> {
  const fields = parseFields(body);
  const required = (name: string) => {
    const value = numberField(fields, name);
    if (value === undefined) throw new RecordError(`SYSCALL record without ${name}`);
    return value;
  };
  const tty = fields.get("tty");
  return {
    auid: required("auid"),
    ses: required("ses"),
    uid: required("uid"),
    pid: required("pid"),
    ppid: required("ppid"),
    tty: tty === undefined || tty === "(none)" ? undefined : tty,
    success: fields.get("success") === "yes",
    exitStatus: exitGroupStatus(fields),
    exe: untrustedString(fields.get("exe")),
    key: untrustedString(fields.get("key")),
    auidName: enrichedAuid(enriched),
  };
}

/** The directory of a CWD record. */
export function cwdOf(body: string): string | undefined {
  return untrustedString(parseFields(body).get("cwd"));
}
