/**
 * Shared field handling for the body codecs: every body is a fixed part of small integers and
 * length fields followed by the variable fields in order. Encoders check each value's range and
 * each field's length; decoders check that the lengths add up to the body length exactly.
 */
import { CodecError, WRONG_SECRET_HINT } from "./errors";

const encoder = new TextEncoder();
const strictDecoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
const lenientDecoder = new TextDecoder("utf-8", { ignoreBOM: true });

/** A field's bytes, refusing anything longer than its length field can express. */
export function fieldBytes(what: string, value: string | Uint8Array, max: number): Uint8Array {
  const bytes = typeof value === "string" ? encoder.encode(value) : value;
  if (bytes.length > max) throw new CodecError("bad-field", `${what} is ${bytes.length} bytes, the maximum is ${max}`);
  return bytes;
}

/** A one-byte value that must be one of `allowed` (or any byte when `allowed` is omitted). */
export function checkByte(what: string, value: number, allowed?: readonly number[]): number {
  const isByte = Number.isInteger(value) && value >= 0 && value <= 0xff;
  if (!isByte || (allowed && !allowed.includes(value))) {
    throw new CodecError("bad-field", `${what} ${value} is not a valid value`);
  }
  return value;
}

/** The numeric members of a TypeScript enum, for `checkByte`. */
export function enumValues(e: Record<string, string | number>): readonly number[] {
  return Object.values(e).filter((v): v is number => typeof v === "number");
}

/** priv_lvl is 0..15 (§5.1). */
export const PRIV_LEVELS: readonly number[] = Array.from({ length: 16 }, (_, i) => i);

/** Builds a body: fixed bytes first (written by the caller through `view`), then the fields in order. */
export function assemble(fixedLength: number, fields: readonly Uint8Array[], writeFixed: (view: DataView) => void): Uint8Array {
  let total = fixedLength;
  for (const f of fields) total += f.length;
  // The ArrayBuffer first: reading `.buffer` of a fresh Uint8Array makes the engine materialise one (slow).
  const buffer = new ArrayBuffer(total);
  const out = new Uint8Array(buffer);
  writeFixed(new DataView(buffer, 0, fixedLength));
  let offset = fixedLength;
  for (const f of fields) {
    out.set(f, offset);
    offset += f.length;
  }
  return out;
}

/** Reads a body strictly: the fixed part must be present and the declared lengths must fill it exactly. */
export class BodyReader {
  readonly #body: Uint8Array;
  readonly #view: DataView;
  readonly #kind: string;
  #offset = 0;

  constructor(body: Uint8Array, kind: string, fixedLength: number) {
    this.#body = body;
    this.#kind = kind;
    if (body.length < fixedLength) {
      throw new CodecError("length-mismatch", `${kind} body is ${body.length} bytes, shorter than its ${fixedLength}-byte fixed part ${WRONG_SECRET_HINT}`);
    }
    this.#view = new DataView(body.buffer, body.byteOffset, body.length);
  }

  /** Refuses to read `n` more bytes past the end of the body. */
  need(n: number, what: string): void {
    if (this.#offset + n > this.#body.length) {
      throw new CodecError("length-mismatch", `${this.#kind} body ends inside its ${what} ${WRONG_SECRET_HINT}`);
    }
  }

  u8(): number {
    return this.#view.getUint8(this.#offset++);
  }

  u16(): number {
    const v = this.#view.getUint16(this.#offset);
    this.#offset += 2;
    return v;
  }

  /** Call once all fixed fields are read: the variable fields must fill the rest of the body exactly. */
  expectLengths(lengths: readonly number[]): void {
    let total = this.#offset;
    for (const n of lengths) total += n;
    if (total !== this.#body.length) {
      throw new CodecError("length-mismatch", `${this.#kind} fields add up to ${total} bytes but the body is ${this.#body.length} ${WRONG_SECRET_HINT}`);
    }
  }

  bytes(n: number): Uint8Array {
    const out = this.#body.subarray(this.#offset, this.#offset + n);
    this.#offset += n;
    return out;
  }

  /** A name or argument: must be valid UTF-8, since it drives policy decisions. */
  text(n: number, what: string): string {
    try {
      return strictDecoder.decode(this.bytes(n));
    } catch {
      throw new CodecError("bad-field", `${this.#kind} ${what} is not valid UTF-8`);
    }
  }

  /**
   * Server text for humans (server_msg, reply data): invalid UTF-8 (e.g. a Latin-1 prompt from an
   * old server) becomes U+FFFD instead of failing an otherwise valid reply.
   */
  displayText(n: number): string {
    return lenientDecoder.decode(this.bytes(n));
  }

  /**
   * Checks a fixed field read earlier. Decoders call this after `expectLengths`, so a wrong shared
   * secret shows up as a length mismatch (with its hint) rather than as some odd field value.
   */
  check<T extends number>(what: string, value: number, allowed: readonly number[]): T {
    if (!allowed.includes(value)) throw new CodecError("bad-field", `${this.#kind} ${what} ${value} is not a valid value`);
    return value as T;
  }
}
