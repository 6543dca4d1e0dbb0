/**
 * Request field checks at the API edge. Each failure is INVALID_ARGUMENT naming the proto field;
 * values are never echoed (a field may hold a password or site data).
 * Limits follow the wire: names, data and each argument have one-byte lengths (RFC 8907 §5.1, §6.1).
 */
import type { Arg } from "../protocol";
import { GrpcError, Status } from "./status";

export const MAX_FIELD_BYTES = 255;
export const MAX_ARGS = 255;
export const MAX_PRIV_LVL = 15;

const encoder = new TextEncoder();
// eslint-disable-next-line no-control-regex
const CONTROL_CHARS = /[\u0000-\u001f\u007f]/;
const SEPARATORS = /[=*]/;

export function invalid(field: string, reason: string): GrpcError {
  return new GrpcError(Status.INVALID_ARGUMENT, `invalid ${field}: ${reason}`);
}

function byteLength(value: string): number {
  // Fast path: ASCII strings are as long in bytes as in UTF-16 units.
  return value.length * 3 <= MAX_FIELD_BYTES ? value.length : encoder.encode(value).length;
}

/** A name-like string (user, port, rem_addr, argument names): at most 255 bytes, no control characters. */
export function checkName(field: string, value: string, required = false): string {
  if (required && value.length === 0) throw invalid(field, "must not be empty");
  const problem = nameProblem(value);
  if (problem !== undefined) throw invalid(field, problem);
  return value;
}

/** What is wrong with a name-like string, if anything. */
function nameProblem(value: string): string | undefined {
  const length = byteLength(value);
  if (length > MAX_FIELD_BYTES) return `is ${length} bytes, the maximum is ${MAX_FIELD_BYTES}`;
  if (CONTROL_CHARS.test(value)) return "must not contain control characters (NUL, newline, ...)";
  return undefined;
}

/** Opaque bytes with a one-byte length on the wire (PAP password). */
export function checkBytes(field: string, value: Uint8Array): Uint8Array {
  if (value.length > MAX_FIELD_BYTES) throw invalid(field, `is ${value.length} bytes, the maximum is ${MAX_FIELD_BYTES}`);
  return value;
}

/** priv_lvl 0..15 (RFC 8907 §5.1). */
export function checkPrivLvl(field: string, value: number): number {
  if (!Number.isInteger(value) || value < 0 || value > MAX_PRIV_LVL) throw invalid(field, `${value} is outside 0..${MAX_PRIV_LVL}`);
  return value;
}

/** A protobuf enum value that must be one of `allowed` (proto3 enums are open: anything may arrive). */
export function checkEnum<T extends number>(field: string, value: number, allowed: readonly T[]): T {
  if (!allowed.includes(value as T)) throw invalid(field, `value ${value} is not supported`);
  return value as T;
}

/**
 * One argument: the name non-empty, without '=' or '*' (the separators) or control characters;
 * the value without NUL; "name=value" at most 255 bytes. The field is `field[index]` when an
 * index is given (built only for an error message).
 */
export function checkArg(field: string, arg: Arg, index?: number): Arg {
  if (arg.name.length === 0) throw invalid(`${argField(field, index)}.name`, "must not be empty");
  if (SEPARATORS.test(arg.name)) throw invalid(`${argField(field, index)}.name`, "must not contain '=' or '*'");
  const problem = nameProblem(arg.name);
  if (problem !== undefined) throw invalid(`${argField(field, index)}.name`, problem);
  if (arg.value.includes("\u0000")) throw invalid(`${argField(field, index)}.value`, "must not contain NUL");
  const length = byteLength(arg.name) + 1 + byteLength(arg.value);
  if (length > MAX_FIELD_BYTES) throw invalid(argField(field, index), `"name=value" is ${length} bytes, the maximum is ${MAX_FIELD_BYTES}`);
  return arg;
}

function argField(field: string, index: number | undefined): string {
  return index === undefined ? field : `${field}[${index}]`;
}

export function checkArgCount(field: string, count: number): void {
  if (count > MAX_ARGS) throw invalid(field, `${count} arguments, the maximum is ${MAX_ARGS} in total`);
}
