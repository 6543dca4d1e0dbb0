/**
 * TLS presentation-language encoding (RFC 8446 §3): big-endian integers and length-prefixed
 * vectors. The reader throws a TlsFailure with decode_error on any malformed input.
 */
import { ALERT, TlsFailure } from "./alerts";

export class ByteWriter {
  readonly #chunks: Uint8Array[] = [];

  bytes(data: Uint8Array): this {
    this.#chunks.push(data);
    return this;
  }

  u8(value: number): this {
    return this.bytes(Uint8Array.of(value & 0xff));
  }

  u16(value: number): this {
    return this.bytes(Uint8Array.of((value >> 8) & 0xff, value & 0xff));
  }

  u24(value: number): this {
    return this.bytes(Uint8Array.of((value >> 16) & 0xff, (value >> 8) & 0xff, value & 0xff));
  }

  /** A vector whose length prefix is `prefixBytes` (1, 2 or 3) long. */
  vector(prefixBytes: 1 | 2 | 3, data: Uint8Array): this {
    const max = 2 ** (8 * prefixBytes) - 1;
    if (data.length > max) throw new RangeError(`vector of ${data.length} bytes exceeds ${max}`);
    if (prefixBytes === 1) this.u8(data.length);
    else if (prefixBytes === 2) this.u16(data.length);
    else this.u24(data.length);
    return this.bytes(data);
  }

  finish(): Uint8Array {
    return concatBytes(this.#chunks);
  }
}

export function concatBytes(chunks: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((sum, chunk) => sum + chunk.length, 0));
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.length;
  }
  return out;
}

export class ByteReader {
  #offset = 0;

  constructor(
    private readonly data: Uint8Array,
    /** Names the structure in decode errors, e.g. "ServerHello". */
    private readonly what: string,
  ) {}

  get remaining(): number {
    return this.data.length - this.#offset;
  }

  bytes(count: number): Uint8Array {
    if (count > this.remaining) throw this.#truncated();
    const out = this.data.subarray(this.#offset, this.#offset + count);
    this.#offset += count;
    return out;
  }

  u8(): number {
    return this.bytes(1)[0]!;
  }

  u16(): number {
    const b = this.bytes(2);
    return (b[0]! << 8) | b[1]!;
  }

  u24(): number {
    const b = this.bytes(3);
    return (b[0]! << 16) | (b[1]! << 8) | b[2]!;
  }

  vector(prefixBytes: 1 | 2 | 3): Uint8Array {
    const length = prefixBytes === 1 ? this.u8() : prefixBytes === 2 ? this.u16() : this.u24();
    return this.bytes(length);
  }

  /** Fails unless every byte was consumed. */
  end(): void {
    if (this.remaining !== 0) {
      throw new TlsFailure(ALERT.decode_error, `${this.what} has ${this.remaining} trailing bytes`);
    }
  }

  #truncated(): TlsFailure {
    return new TlsFailure(ALERT.decode_error, `${this.what} is truncated`);
  }
}
