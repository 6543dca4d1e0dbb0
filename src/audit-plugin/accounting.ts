/**
 * An exec event → the agent's AccountingRequest (pure): service=shell (the agent adds it),
 * cmd= the program as invoked (argv[0]), one cmd-arg= per argument, task_id, start_time, and
 * the TACACS+ user, tty, remote address and priv-lvl of the login session (RFC 8907 §8.3).
 *
 * RFC 8907 §6.1: an argument is at most 255 bytes ("name=value") and a packet at most 255
 * arguments; longer values are cut on a UTF-8 boundary and end with CUT_MARKER, and a command
 * line with more arguments than fit ends with one "[N more arguments]".
 */
import type { ExecArg, ExecEvent } from "./exec-event";

export const CUT_MARKER = "[...]";
const MAX_ARG_BYTES = 255;
/** service, cmd, task_id, start_time: what the agent sends besides the cmd-args. */
const OTHER_ARGS = 4;
const MAX_CMD_ARGS = 255 - OTHER_ARGS;

/** What a login session contributes to each of its commands' records. */
export interface SessionInfo {
  user: string;
  port: string;
  remoteAddress: string;
  privilegeLevel: number;
  /** task_id = `<taskBase>-<audit serial>`. */
  taskBase: string;
  /** When the agent registered the session; execs before it are not the session's (0: fallback). */
  registeredAtMs: number;
}

const utf8 = new TextDecoder("utf-8", { fatal: false });

/** An argument's text within `maxBytes`, cut on a character boundary with the marker. */
export function fitArgument(arg: ExecArg, maxBytes: number): string {
  if (arg.length <= maxBytes && arg.bytes.length === arg.length) return utf8.decode(arg.bytes);
  let end = Math.min(arg.bytes.length, maxBytes - CUT_MARKER.length);
  // Back up to the start of a UTF-8 sequence (continuation bytes are 10xxxxxx).
  while (end > 0 && (arg.bytes[end]! & 0xc0) === 0x80) end--;
  return utf8.decode(arg.bytes.subarray(0, end)) + CUT_MARKER;
}

export type RecordType = "ACCOUNTING_RECORD_TYPE_STOP" | "ACCOUNTING_RECORD_TYPE_START";

export function accountingRequest(event: ExecEvent, session: SessionInfo, recordType: RecordType = "ACCOUNTING_RECORD_TYPE_STOP"): Record<string, unknown> {
  const [program, ...rest] = event.args;
  const command = program === undefined || program.length === 0 ? (event.exe ?? "") : fitArgument(program, MAX_ARG_BYTES - "cmd=".length);
  const more = event.argc - 1 - MAX_CMD_ARGS;
  const shown = more > 0 ? rest.slice(0, MAX_CMD_ARGS - 1) : rest;
  const commandArguments = shown.map((arg) => fitArgument(arg, MAX_ARG_BYTES - "cmd-arg=".length));
  if (more > 0) commandArguments.push(`[${event.argc - 1 - shown.length} more arguments]`);
  return {
    user: session.user,
    port: session.port,
    remoteAddress: session.remoteAddress,
    command,
    commandArguments,
    recordType,
    taskId: `${session.taskBase}-${event.serial}`,
    startTime: Math.floor(event.timeMs / 1000),
    privilegeLevel: session.privilegeLevel,
  };
}

/** The STOP of a command accounted with `start` (RFC 8907 §7.2: the same task_id), ended at `stopTimeMs`. */
export function stopRequest(start: Record<string, unknown>, stopTimeMs: number): Record<string, unknown> {
  return { ...start, recordType: "ACCOUNTING_RECORD_TYPE_STOP", stopTime: Math.floor(stopTimeMs / 1000) };
}
