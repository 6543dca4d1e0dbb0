/**
 * Splits a byte stream into whole TACACS+ frames (header + body) across arbitrary chunk boundaries.
 * Chunks are queued, not concatenated: each byte is copied at most once, when a frame spans chunks.
 * A frame lying inside one chunk is returned as a view of that chunk (callers hand chunks over and
 * must not modify them afterwards).
 */
import { HEADER_LENGTH } from "./constants";
import { decodeHeader, decodeHeaderAt, checkMaxBodyLength, type PacketHeader } from "./header";

export class FrameReader {
  readonly #maxBodyLength: number;
  #chunks: Uint8Array[] = [];
  /** Index of the first unread chunk; consumed chunks are dropped in batches (no O(n) shift per chunk). */
  #head = 0;
  /** Read position inside the first unread chunk. */
  #offset = 0;
  #buffered = 0;
  /** Total length of the frame being assembled, once its header has been validated. */
  #frameLength: number | undefined;

  /** `maxBodyLength` defaults to 65536 and may not exceed the hard cap 196356. */
  constructor(maxBodyLength?: number) {
    this.#maxBodyLength = checkMaxBodyLength(maxBodyLength);
  }

  /** Bytes received but not yet returned as a frame. */
  get buffered(): number {
    return this.#buffered;
  }

  /**
   * Adds bytes and returns every frame now complete, in order. Throws CodecError for a bad header
   * (e.g. "too-large" as soon as the 12 header bytes are in); the stream is unusable after that.
   */
  push(chunk: Uint8Array): Uint8Array[] {
    const frames: Uint8Array[] = [];
    if (chunk.length > 0) {
      this.#chunks.push(chunk);
      this.#buffered += chunk.length;
    }
    for (;;) {
      if (this.#frameLength === undefined) {
        if (this.#buffered < HEADER_LENGTH) break;
        this.#frameLength = HEADER_LENGTH + this.#peekHeader().length;
      }
      if (this.#buffered < this.#frameLength) break;
      frames.push(this.#take(this.#frameLength));
      this.#frameLength = undefined;
    }
    return frames;
  }

  /** The header of the next frame, validated, without consuming it (or taking a view when it lies in one chunk). */
  #peekHeader(): PacketHeader {
    const first = this.#chunks[this.#head]!;
    if (first.length - this.#offset >= HEADER_LENGTH) return decodeHeaderAt(first, this.#offset, this.#maxBodyLength);
    return decodeHeader(this.#copy(HEADER_LENGTH, false), this.#maxBodyLength);
  }

  /** Removes and returns the first `n` buffered bytes. */
  #take(n: number): Uint8Array {
    const first = this.#chunks[this.#head]!;
    if (first.length - this.#offset >= n) {
      const view = first.subarray(this.#offset, this.#offset + n);
      this.#advance(n);
      return view;
    }
    return this.#copy(n, true);
  }

  #copy(n: number, consume: boolean): Uint8Array {
    const out = new Uint8Array(n);
    let filled = 0;
    let offset = this.#offset;
    for (let i = this.#head; filled < n; i++) {
      const chunk = this.#chunks[i]!;
      const part = Math.min(chunk.length - offset, n - filled);
      out.set(chunk.subarray(offset, offset + part), filled);
      filled += part;
      offset = 0;
    }
    if (consume) this.#advance(n);
    return out;
  }

  #advance(n: number): void {
    this.#buffered -= n;
    let remaining = n;
    while (remaining > 0) {
      const first = this.#chunks[this.#head]!;
      const available = first.length - this.#offset;
      if (available > remaining) {
        this.#offset += remaining;
        return;
      }
      remaining -= available;
      this.#head++;
      this.#offset = 0;
    }
    if (this.#head === this.#chunks.length) {
      this.#chunks = [];
      this.#head = 0;
    } else if (this.#head >= 64) {
      this.#chunks = this.#chunks.slice(this.#head);
      this.#head = 0;
    }
  }
}
