/**
 * One HTTP/2 stream as the application sees it: the request arrives through its listener, the
 * reply leaves through sendHeaders/sendData, queued in order until flow control lets it out.
 */
import type { PeerUsage } from "./peers";
import { localOpen, type StreamState } from "./stream-state";

/** What the application hears of a stream's request. */
export interface StreamListener {
  data(chunk: Uint8Array): void;
  /** The client half-closed (END_STREAM, possibly with trailers). */
  end(): void;
  /** The stream was reset by the client or the connection went away before we ended it. */
  abort(): void;
}

export type Outgoing = { kind: "headers"; block: Uint8Array; end: boolean } | { kind: "data"; bytes: Uint8Array; end: boolean };

/** What the application counts per connection (fair shares, bytes held); the HTTP/2 layer only carries it. */
export interface ConnectionUsage {
  calls: number;
  streaming: number;
  bufferedBytes: number;
  /** The connection's peer, whose usage its connections share. */
  readonly peer: PeerUsage;
}

/** The connection side of a stream. */
export interface StreamOwner {
  /** Sends what the windows allow of the stream's queue. */
  pump(stream: H2Stream): void;
}

export class H2Stream {
  state: StreamState = "open";
  listener: StreamListener | undefined;
  /**
   * WINDOW_UPDATE increments minus DATA sent: our send window is the peer's initial window
   * (SETTINGS, kept by the connection) plus this.
   */
  credit = 0;
  /** Bytes received and not yet returned with a WINDOW_UPDATE. */
  unacked = 0;
  /** Body bytes received (checked against content-length). */
  received = 0;
  readonly queue: Outgoing[] = [];
  /** END_STREAM was queued: nothing more may be sent. */
  ending = false;
  headersSent = false;

  constructor(
    readonly id: number,
    private readonly owner: StreamOwner,
    /** Shared by the streams of one connection. */
    readonly usage: ConnectionUsage,
    readonly expectedLength: number | undefined,
  ) {}

  /** True while we may still send on the stream. */
  get writable(): boolean {
    return !this.ending && localOpen(this.state);
  }

  /** Sends a field block (response headers or trailers). */
  sendHeaders(block: Uint8Array, end: boolean): void {
    if (!this.writable) return;
    this.headersSent = true;
    this.#enqueue({ kind: "headers", block, end });
  }

  /** Sends DATA, split to the peer's frame size and windows. */
  sendData(bytes: Uint8Array, end: boolean): void {
    if (!this.writable) return;
    this.#enqueue({ kind: "data", bytes, end });
  }

  #enqueue(item: Outgoing): void {
    if (item.end) this.ending = true;
    this.queue.push(item);
    this.owner.pump(this);
  }
}
