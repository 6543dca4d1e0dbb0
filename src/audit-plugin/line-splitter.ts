/**
 * auditd's plugin stream → lines (pure). A line longer than `maxLineBytes` is never buffered:
 * its bytes are skipped up to the next newline and it is reported once with its length.
 */
const NEWLINE = 0x0a;

export interface LineSink {
  line(text: string): void;
  oversized(bytes: number): void;
}

export class LineSplitter {
  readonly #decoder = new TextDecoder("utf-8", { fatal: false });
  /** Bytes of the line in progress. */
  #parts: Uint8Array[] = [];
  #partBytes = 0;
  /** Bytes skipped of an oversized line in progress, or -1. */
  #skipped = -1;

  constructor(
    private readonly maxLineBytes: number,
    private readonly sink: LineSink,
  ) {}

  push(chunk: Uint8Array): void {
    let start = 0;
    while (start < chunk.length) {
      const newline = chunk.indexOf(NEWLINE, start);
      const end = newline < 0 ? chunk.length : newline;
      this.#take(chunk.subarray(start, end));
      if (newline < 0) return;
      this.#endLine();
      start = newline + 1;
    }
  }

  /** End of input: a last line without newline still counts. */
  end(): void {
    if (this.#partBytes > 0 || this.#skipped > 0) this.#endLine();
  }

  #take(bytes: Uint8Array): void {
    if (bytes.length === 0) return;
    if (this.#skipped >= 0) {
      this.#skipped += bytes.length;
      return;
    }
    if (this.#partBytes + bytes.length > this.maxLineBytes) {
      this.#skipped = this.#partBytes + bytes.length;
      this.#parts = [];
      this.#partBytes = 0;
      return;
    }
    // The chunk's buffer is reused by the reader: keep a copy.
    this.#parts.push(bytes.slice());
    this.#partBytes += bytes.length;
  }

  #endLine(): void {
    if (this.#skipped >= 0) {
      this.sink.oversized(this.#skipped);
      this.#skipped = -1;
      return;
    }
    const parts = this.#parts;
    const text = parts.length === 1 ? this.#decoder.decode(parts[0]) : this.#decoder.decode(Buffer.concat(parts, this.#partBytes));
    this.#parts = [];
    this.#partBytes = 0;
    if (text.length > 0) this.sink.line(text);
  }
}
