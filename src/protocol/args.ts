/**
 * Authorization and accounting arguments (RFC 8907 §6.1): "name=value" is mandatory,
 * "name*value" optional. The name ends at the first "=" or "*"; the value may contain either.
 */
import { CodecError } from "./errors";
import { BodyReader, fieldBytes } from "./fields";

export interface Arg {
  name: string;
  value: string;
  mandatory: boolean;
}

/** Each argument's length is one byte; there are at most 255 arguments. */
const MAX_ARG_LENGTH = 255;
const MAX_ARG_COUNT = 255;

export function formatArg(a: Arg): string {
  if (a.name.length === 0 || /[=*]/.test(a.name)) {
    throw new CodecError("bad-field", `argument name "${a.name}" must be non-empty and contain neither "=" nor "*"`);
  }
  return `${a.name}${a.mandatory ? "=" : "*"}${a.value}`;
}

export function parseArg(s: string): Arg {
  const at = s.search(/[=*]/);
  // The text is not echoed: an argument may carry site data that does not belong in logs.
  if (at < 0) throw new CodecError("bad-field", `argument of ${s.length} characters has no "=" or "*" separator`);
  if (at === 0) throw new CodecError("bad-field", "argument has an empty name");
  return { name: s.slice(0, at), value: s.slice(at + 1), mandatory: s[at] === "=" };
}

/** The encoded arguments, each checked against its one-byte length field. */
export function encodeArgs(args: readonly Arg[]): Uint8Array[] {
  if (args.length > MAX_ARG_COUNT) throw new CodecError("bad-field", `${args.length} arguments, the maximum is ${MAX_ARG_COUNT}`);
  return args.map((a, i) => fieldBytes(`argument ${i + 1}`, formatArg(a), MAX_ARG_LENGTH));
}

/** Reads `lengths.length` arguments. */
export function decodeArgs(reader: BodyReader, lengths: readonly number[]): Arg[] {
  return lengths.map((n, i) => parseArg(reader.text(n, `argument ${i + 1}`)));
}

/** Reads `count` one-byte argument lengths. */
export function readArgLengths(reader: BodyReader, count: number): number[] {
  reader.need(count, "argument lengths");
  return Array.from({ length: count }, () => reader.u8());
}
