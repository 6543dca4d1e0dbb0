/**
 * Shared field handling for the body codecs: every body is a fixed part of small integers and
 * length fields followed by the variable fields in order. Encoders check each value's range and
 * each field's length; decoders check that the lengths add up to the body length exactly.
 */
import { copyInto, readUint16, utf8 } from "./bytes";
import { CodecError, WRONG_SECRET_HINT } from "./errors";

const strictDecoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
const lenientDecoder = new TextDecoder("utf-8", { ignoreBOM: true });

/** A field's name in errors: "user", or "argument 3" for the third of a list (built only when reporting). */
function fieldName(what: string, ordinal: number | undefined): string {
  return ordinal === undefined ? what : `${what} ${ordinal}`;
}

/** A field's bytes, refusing anything longer than its length field can express. */
export function fieldBytes(what: string, value: string | Uint8Array, max: number, ordinal?: number): Uint8Array {
  const bytes = typeof value === "string" ? utf8(value) : value;
  if (bytes.length > max) throw new CodecError("bad-field", `${fieldName(what, ordinal)} is ${bytes.length} bytes, the maximum is ${max}`);
  return bytes;
}

/** The values a one-byte field allows, as a 256-entry table: one indexed load instead of a search. */
export class ByteSet {
  readonly #table = new Uint8Array(256);

  constructor(values: readonly number[]) {
    for (const v of values) this.#table[v] = 1;
  }

  has(value: number): boolean {
    return this.#table[value] === 1;
  }
}

/** A one-byte value that must be one of `allowed` (or any byte when `allowed` is omitted). */
export function checkByte(what: string, value: number, allowed?: ByteSet): number {
  const isByte = Number.isInteger(value) && value >= 0 && value <= 0xff;
  if (!isByte || (allowed && !allowed.has(value))) {
    throw new CodecError("bad-field", `${what} ${value} is not a valid value`);
  }
  return value;
}

/** The numeric members of a TypeScript enum (plus `extra`), for `checkByte`. */
export function enumValues(e: Record<string, string | number>, ...extra: number[]): ByteSet {
  return new ByteSet([...extra, ...Object.values(e).filter((v): v is number => typeof v === "number")]);
}

/** priv_lvl is 0..15 (§5.1). */
export const PRIV_LEVELS = new ByteSet(Array.from({ length: 16 }, (_, i) => i));

const NO_FIELDS: readonly Uint8Array[] = [];

/**
 * Allocates a body and copies `fields`, then `moreFields`, after its fixed part; the caller then
 * writes the fixed part into the returned bytes (see bytes.ts for the 16-bit lengths).
 */
export function assemble(fixedLength: number, fields: readonly Uint8Array[], moreFields: readonly Uint8Array[] = NO_FIELDS): Uint8Array {
  let total = fixedLength;
  for (const f of fields) total += f.length;
  for (const f of moreFields) total += f.length;
  const out = new Uint8Array(total);
  let offset = fixedLength;
  for (const f of fields) {
    copyInto(out, offset, f);
    offset += f.length;
  }
  for (const f of moreFields) {
    copyInto(out, offset, f);
    offset += f.length;
  }
  return out;
}

const NO_LENGTHS: readonly number[] = [];

/** Reads a body strictly: the fixed part must be present and the declared lengths must fill it exactly. */
export class BodyReader {
  readonly #body: Uint8Array;
  readonly #kind: string;
  #offset = 0;

  constructor(body: Uint8Array, kind: string, fixedLength: number) {
    this.#body = body;
    this.#kind = kind;
    if (body.length < fixedLength) {
      throw new CodecError("length-mismatch", `${kind} body is ${body.length} bytes, shorter than its ${fixedLength}-byte fixed part ${WRONG_SECRET_HINT}`);
    }
  }

  /** Refuses to read `n` more bytes past the end of the body. */
  need(n: number, what: string): void {
    if (this.#offset + n > this.#body.length) {
      throw new CodecError("length-mismatch", `${this.#kind} body ends inside its ${what} ${WRONG_SECRET_HINT}`);
    }
  }

  u8(): number {
    return this.#body[this.#offset++]!;
  }

  u16(): number {
    const v = readUint16(this.#body, this.#offset);
    this.#offset += 2;
    return v;
  }

  /**
   * Call once all fixed fields are read: the variable fields (`lengths`, then `moreLengths`) must
   * fill the rest of the body exactly.
   */
  expectLengths(lengths: readonly number[], moreLengths: readonly number[] = NO_LENGTHS): void {
    let total = this.#offset;
    for (const n of lengths) total += n;
    for (const n of moreLengths) total += n;
    if (total !== this.#body.length) {
      throw new CodecError("length-mismatch", `${this.#kind} fields add up to ${total} bytes but the body is ${this.#body.length} ${WRONG_SECRET_HINT}`);
    }
  }

  /** A view, not a copy: wiping the body (e.g. a decoded password) wipes this field too. */
  bytes(n: number): Uint8Array {
    if (n === 0) return new Uint8Array(0);
    const out = this.#body.subarray(this.#offset, this.#offset + n);
    this.#offset += n;
    return out;
  }

  /**
   * A short-lived copy for the text decoder: a view of a freshly de-obfuscated body would make
   * the engine materialise an ArrayBuffer behind it, which costs more than copying a short field.
   */
  #copy(n: number): Uint8Array {
    const out = this.#body.slice(this.#offset, this.#offset + n);
    this.#offset += n;
    return out;
  }

  /** A name or argument: must be valid UTF-8, since it drives policy decisions. */
  text(n: number, what: string, ordinal?: number): string {
    if (n === 0) return "";
    try {
      return strictDecoder.decode(this.#copy(n));
    } catch {
      throw new CodecError("bad-field", `${this.#kind} ${fieldName(what, ordinal)} is not valid UTF-8`);
    }
  }

  /**
   * Server text for humans (server_msg, reply data): invalid UTF-8 (e.g. a Latin-1 prompt from an
   * old server) becomes U+FFFD instead of failing an otherwise valid reply.
   */
  displayText(n: number): string {
    return n === 0 ? "" : lenientDecoder.decode(this.#copy(n));
  }

  /**
   * Checks a fixed field read earlier. Decoders call this after `expectLengths`, so a wrong shared
   * secret shows up as a length mismatch (with its hint) rather than as some odd field value.
   */
  check<T extends number>(what: string, value: number, allowed: ByteSet): T {
    if (!allowed.has(value)) throw new CodecError("bad-field", `${this.#kind} ${what} ${value} is not a valid value`);
    return value as T;
  }
}
