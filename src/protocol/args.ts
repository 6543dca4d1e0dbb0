/**
 * Authorization and accounting arguments (RFC 8907 §6.1): "name=value" is mandatory,
 * "name*value" optional. The name ends at the first "=" or "*"; the value may contain either.
 */
import { copyAscii, utf8 } from "./bytes";
import { MAX_ARG_COUNT, MAX_ARG_LENGTH } from "./constants";
import { CodecError } from "./errors";
import { BodyReader, fieldBytes } from "./fields";

export interface Arg {
  name: string;
  value: string;
  mandatory: boolean;
}

const MANDATORY = 0x3d; // "="
const OPTIONAL = 0x2a; // "*"

/** Where the name ends: the first "=" or "*", or -1. */
function separatorIndex(s: string): number {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === MANDATORY || c === OPTIONAL) return i;
  }
  return -1;
}

function checkName(name: string): void {
  if (name.length === 0 || separatorIndex(name) >= 0) {
    throw new CodecError("bad-field", `argument name "${name}" must be non-empty and contain neither "=" nor "*"`);
  }
}

export function formatArg(a: Arg): string {
  checkName(a.name);
  return a.name + (a.mandatory ? "=" : "*") + a.value;
}

/** The UTF-8 bytes of `formatArg(a)`, written straight from name and value when both are ASCII. */
function argBytes(a: Arg): Uint8Array {
  checkName(a.name);
  const out = new Uint8Array(a.name.length + 1 + a.value.length);
  if (!copyAscii(a.name, out, 0) || !copyAscii(a.value, out, a.name.length + 1)) return utf8(formatArg(a));
  out[a.name.length] = a.mandatory ? MANDATORY : OPTIONAL;
  return out;
}

export function parseArg(s: string): Arg {
  const at = separatorIndex(s);
  // The text is not echoed: an argument may carry site data that does not belong in logs.
  if (at < 0) throw new CodecError("bad-field", `argument of ${s.length} characters has no "=" or "*" separator`);
  if (at === 0) throw new CodecError("bad-field", "argument has an empty name");
  return { name: s.slice(0, at), value: s.slice(at + 1), mandatory: s.charCodeAt(at) === MANDATORY };
}

/** The encoded arguments, each checked against its one-byte length field. */
export function encodeArgs(args: readonly Arg[]): Uint8Array[] {
  if (args.length > MAX_ARG_COUNT) throw new CodecError("bad-field", `${args.length} arguments, the maximum is ${MAX_ARG_COUNT}`);
  const out: Uint8Array[] = [];
  for (let i = 0; i < args.length; i++) out.push(fieldBytes("argument", argBytes(args[i]!), MAX_ARG_LENGTH, i + 1));
  return out;
}

/** Reads `lengths.length` arguments. */
export function decodeArgs(reader: BodyReader, lengths: readonly number[]): Arg[] {
  const out: Arg[] = [];
  for (let i = 0; i < lengths.length; i++) out.push(parseArg(reader.text(lengths[i]!, "argument", i + 1)));
  return out;
}

/** Reads `count` one-byte argument lengths. */
export function readArgLengths(reader: BodyReader, count: number): number[] {
  reader.need(count, "argument lengths");
  const out: number[] = [];
  for (let i = 0; i < count; i++) out.push(reader.u8());
  return out;
}
