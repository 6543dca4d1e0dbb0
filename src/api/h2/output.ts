/**
 * The outgoing side of a connection: frames collect in one buffer and leave in one transport
 * write per batch (the input being handled, or the microtask after replies completed), so a
 * tick's replies on a connection cost one system call, or one per EAGER_FLUSH_BYTES of them.
 * Back-pressure: what the transport does not take waits for drain; a peer that never reads is
 * cut off beyond a bound.
 */
import { FrameBuffer } from "./frames";

/** Where the connection's bytes go: `write` returns how many bytes were taken (Bun socket style). */
export interface Sink {
  write(bytes: Uint8Array): number;
  /** Closes the transport after everything written so far. */
  end(): void;
}

/**
 * Replies completing outside a batch are written once this many bytes collect (about 16 small
 * replies), not only at the end of the tick: the client starts on them while later replies are
 * still being encoded (the same pipelining as the upstream's MAX_BATCH_PACKETS).
 */
export const EAGER_FLUSH_BYTES = 2048;
/** Unread output (a peer that sends but never reads) beyond this closes the connection. */
const MAX_PENDING_OUTPUT = 16 * 1024 * 1024;

export class Output {
  readonly frames = new FrameBuffer();
  /** Bytes waiting for drain, in order (copies: the frame buffer is reused). */
  #pending: Uint8Array[] = [];
  #pendingBytes = 0;
  #scheduled = false;
  #batching = false;
  #closed = false;

  constructor(
    private readonly sink: Sink,
    /** Called when the peer left too much unread; the sink has been ended. */
    private readonly onOverflow: () => void,
  ) {}

  /** Runs `work` and writes everything it produced at once. */
  batch(work: () => void): void {
    this.#batching = true;
    try {
      work();
    } finally {
      this.#batching = false;
      this.flush();
    }
  }

  /** Frames were added outside a batch: flush them in a microtask, with any others of this tick. */
  schedule(): void {
    if (this.#batching) return;
    if (this.frames.length >= EAGER_FLUSH_BYTES) return this.flush();
    if (this.#scheduled) return;
    this.#scheduled = true;
    queueMicrotask(() => {
      this.#scheduled = false;
      this.flush();
    });
  }

  flush(): void {
    if (this.frames.length === 0 || this.#closed) return;
    const bytes = this.frames.take();
    if (this.#pending.length === 0) this.#write(bytes);
    else this.#hold(bytes.slice()); // still waiting for drain: queue behind what is pending
  }

  /** The transport can take more bytes. */
  drain(): void {
    if (this.#pending.length === 0 || this.#closed) return;
    const pending = this.#pending.length === 1 ? this.#pending[0]! : Buffer.concat(this.#pending, this.#pendingBytes);
    this.#pending = [];
    this.#pendingBytes = 0;
    this.#write(pending);
  }

  /** Flushes and ends the transport; later frames are dropped. */
  end(): void {
    if (this.#closed) return;
    this.flush();
    // Output still waiting for drain (a GOAWAY at its end): what the transport takes now goes.
    if (this.#pending.length > 0) this.sink.write(Buffer.concat(this.#pending, this.#pendingBytes));
    this.#pending = [];
    this.#closed = true;
    this.sink.end();
  }

  /** The transport is gone: nothing more is written. */
  discard(): void {
    this.#closed = true;
    this.#pending = [];
  }

  #write(bytes: Uint8Array): void {
    const written = this.sink.write(bytes);
    // The rest waits for drain; copied because `bytes` may be a view of the reused frame buffer.
    if (written < bytes.length) this.#hold(bytes.slice(Math.max(0, written)));
  }

  #hold(bytes: Uint8Array): void {
    this.#pending.push(bytes);
    this.#pendingBytes += bytes.length;
    if (this.#pendingBytes <= MAX_PENDING_OUTPUT) return;
    this.#pending = [];
    this.#closed = true;
    this.sink.end();
    this.onOverflow();
  }
}
