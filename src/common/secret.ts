/**
 * A secret value (shared secret, PSK, private key, password) that never prints itself.
 * String conversion, JSON and util.inspect all yield "[redacted]"; only `reveal()` gives the bytes.
 */
const REDACTED = "[redacted]";

export class Secret {
  readonly #bytes: Uint8Array;

  constructor(bytes: Uint8Array) {
    this.#bytes = bytes;
  }

  static fromText(text: string): Secret {
    return new Secret(new TextEncoder().encode(text));
  }

  /** The raw bytes. Callers must not log or copy them beyond the operation that needs them. */
  reveal(): Uint8Array {
    return this.#bytes;
  }

  get length(): number {
    return this.#bytes.length;
  }

  /** Overwrites the bytes; used when a configuration is replaced. */
  wipe(): void {
    this.#bytes.fill(0);
  }

  toString(): string {
    return REDACTED;
  }

  toJSON(): string {
    return REDACTED;
  }

  [Symbol.for("nodejs.util.inspect.custom")](): string {
    return REDACTED;
  }
}
