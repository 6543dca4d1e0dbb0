/**
 * A command line as the cmd and cmd-arg values of a TACACS+ request (pure; RFC 8907 §6.1: an
 * argument "name=value" is at most 255 bytes and a packet carries at most 255 arguments). A
 * longer value is cut on a UTF-8 boundary and ends with CUT_MARKER; a command line with more
 * arguments than fit ends with one "[N more arguments]". Callers that read command lines (the
 * audit plugin, tacacs-session) keep only what can be carried: MAX_KEPT_ARGS arguments of
 * MAX_KEPT_ARG_BYTES bytes each. They import this file by its path, not through ../protocol,
 * so their modes of the binary do not load the whole codec.
 */
import { MAX_ARG_COUNT, MAX_ARG_LENGTH } from "./constants";

export const CUT_MARKER = "[...]";
/** More than a request can carry (255 arguments of at most 255 bytes). */
export const MAX_KEPT_ARGS = 256;
export const MAX_KEPT_ARG_BYTES = 256;

/** One argument as kept: its first MAX_KEPT_ARG_BYTES bytes, and its full length in bytes. */
export interface CommandArg {
  bytes: Uint8Array;
  length: number;
}

const utf8 = new TextDecoder("utf-8", { fatal: false });

/** An argument's text within `maxBytes`, cut on a character boundary with the marker. */
export function fitArgument(arg: CommandArg, maxBytes: number): string {
  if (arg.length <= maxBytes && arg.bytes.length === arg.length) return utf8.decode(arg.bytes);
  let end = Math.min(arg.bytes.length, maxBytes - CUT_MARKER.length);
  // Back up to the start of a UTF-8 sequence (continuation bytes are 10xxxxxx).
  while (end > 0 && (arg.bytes[end]! & 0xc0) === 0x80) end--;
  return utf8.decode(arg.bytes.subarray(0, end)) + CUT_MARKER;
}

/** The cmd value: `command` within one argument. */
export function fitCommand(command: CommandArg): string {
  return fitArgument(command, MAX_ARG_LENGTH - "cmd=".length);
}

/**
 * The cmd-arg values of a command's `argc` arguments (of which `args` are kept), in a request
 * that carries `otherArgs` arguments besides them (service, cmd, task_id, ...).
 */
export function fitCommandArguments(args: readonly CommandArg[], argc: number, otherArgs: number): string[] {
  const room = MAX_ARG_COUNT - otherArgs;
  const shown = argc > room ? args.slice(0, room - 1) : args;
  const values = shown.map((arg) => fitArgument(arg, MAX_ARG_LENGTH - "cmd-arg=".length));
  if (argc > room) values.push(`[${argc - shown.length} more arguments]`);
  return values;
}
