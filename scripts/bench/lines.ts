/** Reads a child's stdout line by line, with a bounded wait for the next line. */
export class LineReader {
  readonly #lines: string[] = [];
  #waiter: (() => void) | undefined;
  #ended = false;
  #text = "";

  constructor(stream: ReadableStream<Uint8Array>) {
    void this.#pump(stream);
  }

  async #pump(stream: ReadableStream<Uint8Array>): Promise<void> {
    const decoder = new TextDecoder();
    try {
      for await (const chunk of stream) {
        this.#text += decoder.decode(chunk, { stream: true });
        let newline: number;
        while ((newline = this.#text.indexOf("\n")) >= 0) {
          this.#lines.push(this.#text.slice(0, newline));
          this.#text = this.#text.slice(newline + 1);
        }
        this.#waiter?.();
      }
    } finally {
      this.#ended = true;
      this.#waiter?.();
    }
  }

  /** The next line; rejects when the stream ends first or after `timeoutMs`. */
  async next(timeoutMs: number, what: string): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const line = this.#lines.shift();
      if (line !== undefined) return line;
      if (this.#ended) throw new Error(`${what}: the process ended without answering`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`${what}: no answer within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#waiter = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.#waiter = undefined;
    }
  }
}
