/**
 * One server-side HTTP/2 connection (RFC 9113), independent of sockets: bytes go in through
 * `receive()`, frames come out through `Sink.write()`. All frames produced while handling input
 * (and by replies completing in the same tick) are flushed with one write.
 *
 * It implements what a gRPC unary/server-streaming server needs: preface and SETTINGS, PING,
 * GOAWAY, RST_STREAM, WINDOW_UPDATE and send-side flow control, HEADERS + CONTINUATION, padded
 * DATA; PRIORITY is ignored, PUSH_PROMISE refused. Connection errors send GOAWAY and close;
 * stream errors send RST_STREAM.
 */
import { ErrorCode, Flag, FRAME_HEADER_LENGTH, FrameType, DEFAULT_WINDOW, MAX_MAX_FRAME_SIZE, MAX_WINDOW, MIN_MAX_FRAME_SIZE, PREFACE, Setting, settingsPayload, type FrameBuffer } from "./frames";
import { HpackDecoder, HpackError, type HeaderField } from "./hpack";
import { checkTrailers, MalformedRequest, requestHeaders, type RequestHeaders } from "./request-headers";
import { Output, type Sink } from "./output";
import { H2Stream, type ConnectionUsage, type StreamOwner } from "./stream";
import { localOpen, remoteOpen, transition, type StreamEvent } from "./stream-state";
import { errorMessage } from "../../common/error-message";
import { TokenBucket, type H2Counters } from "./guards";
import type { PeerUsage } from "./peers";

export type { Sink } from "./output";
export { H2Stream, type ConnectionUsage, type StreamListener } from "./stream";

export interface ConnectionOptions {
  /** Our SETTINGS_MAX_CONCURRENT_STREAMS; streams beyond it are refused (REFUSED_STREAM). */
  maxConcurrentStreams: number;
  /** Close (GOAWAY NO_ERROR) after this long without a HEADERS or DATA frame while no stream is open. */
  idleTimeoutMs: number;
  /** The preface and the first SETTINGS must arrive within this long (default HANDSHAKE_TIMEOUT_MS). */
  handshakeTimeoutMs?: number;
  /** A stream whose reply the peer's window holds back this long is reset (default WRITE_TIMEOUT_MS). */
  writeTimeoutMs?: number;
  /** Refusals and cut-offs, shared by the listener's connections. */
  counters: H2Counters;
  /** Who connected: the usage this connection shares with the peer's other connections. */
  peer: PeerUsage;
  /** Milliseconds on the Date.now() scale (injected in tests). */
  now?: () => number;
  /** A new stream: the application sets `stream.listener` before returning. */
  onStream(stream: H2Stream, headers: RequestHeaders): void;
  /** The connection is gone (after the transport was closed). */
  onClose(): void;
  /** Protocol errors of the peer, for debug logs. */
  onError(message: string): void;
}

/** §6.5.2: what we ask of the peer. */
const OUR_INITIAL_WINDOW = 8 * 1024 * 1024;
/** The connection window we open up to with a WINDOW_UPDATE right after SETTINGS. */
const OUR_CONNECTION_WINDOW = 64 * 1024 * 1024;
const OUR_MAX_FRAME_SIZE = MIN_MAX_FRAME_SIZE;
const OUR_HEADER_TABLE_SIZE = 4096;
/** SETTINGS_MAX_HEADER_LIST_SIZE (§4.1 accounting); larger lists get REFUSED with a 431-like reset. */
const MAX_HEADER_LIST_SIZE = 64 * 1024;
/** A field block (HEADERS + CONTINUATION) larger than this is refused before it is decoded. */
const MAX_FIELD_BLOCK = 2 * MAX_HEADER_LIST_SIZE;
/** Empty CONTINUATION floods (CVE-2024-27316 class) are bounded by a frame count per block. */
const MAX_CONTINUATIONS = 64;
/** Stream ids we reset, whose in-flight frames are ignored (§5.1 "closed"). */
const RESET_MEMORY = 256;
/**
 * Rapid reset (CVE-2023-44487): a client that cancels more streams than it lets complete, beyond
 * this many cancels, is cut off (each cancelled stream started work on our side).
 */
const MAX_EXCESS_CANCELS = 200;
/** A connection that has not sent the preface and its SETTINGS after this long is closed. */
export const HANDSHAKE_TIMEOUT_MS = 10_000;
/** A reply blocked on a zero window this long is given up (RST_STREAM CANCEL) and its stream freed. */
export const WRITE_TIMEOUT_MS = 30_000;
/**
 * Control frames (SETTINGS, PING, WINDOW_UPDATE, PRIORITY, RST_STREAM, unknown types) cost work
 * but carry no request: a connection may send CONTROL_BURST at once and CONTROL_PER_SECOND after
 * that, plus CONTROL_PER_REQUEST for each stream it opens; beyond, GOAWAY ENHANCE_YOUR_CALM.
 */
const CONTROL_BURST = 1000;
const CONTROL_PER_SECOND = 500;
const CONTROL_PER_REQUEST = 4;
/** Entries in one SETTINGS frame (a client needs a handful; nghttp2 allows 32). */
const MAX_SETTINGS_ENTRIES = 32;

/** Connection phases: preface → settings (the first frame must be SETTINGS) → open → going-away → closed. */
export type ConnectionPhase = "preface" | "settings" | "open" | "going-away" | "closed";
export type ConnectionEvent = "preface" | "settings" | "goaway" | "close";

export function connectionTransition(phase: ConnectionPhase, event: ConnectionEvent): ConnectionPhase {
  if (event === "close" || phase === "closed") return "closed";
  if (event === "goaway") return "going-away";
  if (phase === "preface" && event === "preface") return "settings";
  if (phase === "settings" && event === "settings") return "open";
  return phase;
}

/** A connection error: GOAWAY with `code`, then close. */
class ConnectionError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/** A stream error: RST_STREAM with `code`; the connection goes on. */
class StreamError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
  }
}

export class Connection implements StreamOwner {
  readonly #options: ConnectionOptions;
  readonly #output: Output;
  /** The frame buffer of #output, for short lines. */
  readonly #out: FrameBuffer;
  readonly #decoder = new HpackDecoder(OUR_HEADER_TABLE_SIZE, MAX_HEADER_LIST_SIZE);
  readonly #streams = new Map<number, H2Stream>();
  readonly usage: ConnectionUsage;
  readonly #resetIds = new Set<number>();
  #phase: ConnectionPhase = "preface";
  /** Unparsed input (a partial frame), copied out of the transport's buffer. */
  #input: Uint8Array | undefined;
  /** The highest stream id the client used, and the highest we handed to the application (GOAWAY). */
  #lastStreamId = 0;
  #lastProcessed = 0;
  /** A field block being collected: HEADERS without END_HEADERS, then CONTINUATION frames. */
  #block: { streamId: number; end: boolean; parts: Uint8Array[]; size: number; frames: number } | undefined;
  #peerInitialWindow = DEFAULT_WINDOW;
  /**
   * §6.9.2: a stream's send window is #peerInitialWindow + stream.credit, so a SETTINGS change of
   * the initial window costs O(1), not a walk over the open streams. The largest credit any open
   * stream got bounds the overflow check.
   */
  #maxCredit = 0;
  #peerMaxFrameSize = MIN_MAX_FRAME_SIZE;
  #sendWindow = DEFAULT_WINDOW;
  #unackedConnection = 0;
  /** Streams waiting for window to send their queued DATA, with the time each got stuck. */
  readonly #blocked = new Map<H2Stream, number>();
  #writeTimer: ReturnType<typeof setInterval> | undefined;
  readonly #control: TokenBucket;
  readonly #now: () => number;
  /** Streams the client reset while open, and streams that ended normally. */
  #cancelled = 0;
  #completed = 0;
  #lastActivity: number;
  /** The previous request's fields and their validated headers. */
  #lastRequest: { fields: HeaderField[]; headers: RequestHeaders } | undefined;
  #idleTimer: ReturnType<typeof setTimeout> | undefined;
  #handshakeTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(sink: Sink, options: ConnectionOptions) {
    this.#options = options;
    this.usage = { calls: 0, streaming: 0, bufferedBytes: 0, peer: options.peer };
    this.#now = options.now ?? Date.now;
    this.#lastActivity = this.#now();
    this.#control = new TokenBucket(CONTROL_BURST, CONTROL_PER_SECOND, this.#now);
    this.#output = new Output(sink, () => {
      options.onError("connection error: the peer does not read its replies");
      this.closed();
    });
    this.#out = this.#output.frames;
    this.#out.frame(
      FrameType.SETTINGS,
      0,
      0,
      settingsPayload([
        [Setting.MAX_CONCURRENT_STREAMS, options.maxConcurrentStreams],
        [Setting.INITIAL_WINDOW_SIZE, OUR_INITIAL_WINDOW],
        [Setting.MAX_HEADER_LIST_SIZE, MAX_HEADER_LIST_SIZE],
      ]),
    );
    this.#out.words(FrameType.WINDOW_UPDATE, 0, 0, OUR_CONNECTION_WINDOW - DEFAULT_WINDOW);
    this.#output.schedule();
    this.#armIdle(options.idleTimeoutMs);
    this.#handshakeTimer = setTimeout(() => {
      if (this.#phase !== "preface" && this.#phase !== "settings") return;
      options.counters.handshakeTimeouts++;
      this.#fail(new ConnectionError(ErrorCode.SETTINGS_TIMEOUT, "no preface and SETTINGS within the handshake deadline"));
    }, options.handshakeTimeoutMs ?? HANDSHAKE_TIMEOUT_MS);
    this.#handshakeTimer.unref?.();
  }

  get phase(): ConnectionPhase {
    return this.#phase;
  }

  get openStreams(): number {
    return this.#streams.size;
  }

  /** Whether a request completed on this connection (the ones that never did go first at the limit). */
  get productive(): boolean {
    return this.#completed > 0;
  }

  /** Handles bytes from the transport. */
  receive(chunk: Uint8Array): void {
    if (this.#phase === "closed") return;
    // A plain copy of the chunk: slicing the transport's Buffer goes through its species
    // constructor (~110 ns a frame in Bun), a plain Uint8Array's slice costs ~30 ns.
    let input: Uint8Array;
    if (this.#input === undefined) {
      input = new Uint8Array(chunk);
    } else {
      input = new Uint8Array(this.#input.length + chunk.length);
      input.set(this.#input);
      input.set(chunk, this.#input.length);
      this.#input = undefined;
    }
    this.#output.batch(() => {
      try {
        const used = this.#parse(input);
        if (used < input.length && this.phase !== "closed") this.#input = input.slice(used);
      } catch (error) {
        this.#fail(error);
      }
    });
  }

  /** The transport can take more bytes. */
  drain(): void {
    this.#output.drain();
  }

  /** The transport closed: every open stream is aborted. */
  closed(): void {
    if (this.#phase === "closed") return;
    this.#phase = connectionTransition(this.#phase, "close");
    this.#output.discard();
    clearTimeout(this.#idleTimer);
    clearTimeout(this.#handshakeTimer);
    clearInterval(this.#writeTimer);
    const streams = [...this.#streams.values()];
    this.#streams.clear();
    for (const stream of streams) {
      stream.state = "closed";
      stream.listener?.abort();
    }
    this.#options.onClose();
  }

  /**
   * Graceful close (§6.8): GOAWAY NO_ERROR naming the last stream we accepted; streams in flight
   * finish, new ones are ignored, and the transport closes when none is left.
   */
  goAway(): void {
    if (this.#phase === "closed" || this.#phase === "going-away") return;
    this.#phase = connectionTransition(this.#phase, "goaway");
    this.#out.words(FrameType.GOAWAY, 0, 0, this.#lastProcessed, ErrorCode.NO_ERROR);
    this.#output.schedule();
    this.#closeWhenIdle();
  }

  /** Closes the transport now (after flushing what is queued); open streams are aborted. */
  destroy(): void {
    if (this.#phase === "closed") return;
    this.#output.end();
    this.closed();
  }

  /** Sends what the windows allow of a stream's queued frames, in order. */
  pump(stream: H2Stream): void {
    let sent = false;
    while (stream.queue.length > 0 && localOpen(stream.state)) {
      const item = stream.queue[0]!;
      if (item.kind === "headers") {
        this.#writeFieldBlock(stream.id, item.block, item.end);
        stream.queue.shift();
        if (item.end) this.#sentEnd(stream);
        continue;
      }
      const size = Math.min(item.bytes.length, this.#peerMaxFrameSize, this.#peerInitialWindow + stream.credit, this.#sendWindow);
      if (size <= 0 && item.bytes.length > 0) {
        this.#holdBack(stream, sent);
        break;
      }
      const last = size === item.bytes.length;
      this.#out.frame(FrameType.DATA, last && item.end ? Flag.END_STREAM : 0, stream.id, last ? item.bytes : item.bytes.subarray(0, size));
      stream.credit -= size;
      this.#sendWindow -= size;
      sent = true;
      if (!last) {
        item.bytes = item.bytes.subarray(size);
        continue;
      }
      stream.queue.shift();
      if (item.end) this.#sentEnd(stream);
    }
    if (stream.queue.length === 0) this.#blocked.delete(stream);
    this.#output.schedule();
  }

  /** The stream waits for window; the write deadline runs from when it last made progress. */
  #holdBack(stream: H2Stream, progressed: boolean): void {
    if (progressed || !this.#blocked.has(stream)) this.#blocked.set(stream, this.#now());
    if (this.#writeTimer !== undefined) return;
    const timeoutMs = this.#options.writeTimeoutMs ?? WRITE_TIMEOUT_MS;
    this.#writeTimer = setInterval(() => this.#expireBlocked(timeoutMs), Math.max(10, timeoutMs / 4));
    this.#writeTimer.unref?.();
  }

  /** Resets the streams stuck on a zero window past the deadline (their replies are dropped). */
  #expireBlocked(timeoutMs: number): void {
    const now = this.#now();
    for (const [stream, since] of this.#blocked) {
      if (now - since < timeoutMs) continue;
      this.#options.counters.writeTimeouts++;
      this.#options.onError(`stream ${stream.id}: reply blocked by flow control for ${now - since} ms`);
      this.#resetStream(stream, ErrorCode.CANCEL);
    }
    if (this.#blocked.size === 0) {
      clearInterval(this.#writeTimer);
      this.#writeTimer = undefined;
    }
  }

  /** RST_STREAM from our side; the listener hears abort (a no-op for an application that already ended). */
  #resetStream(stream: H2Stream, code: ErrorCode): void {
    if (stream.state === "closed") return;
    this.#out.words(FrameType.RST_STREAM, 0, stream.id, code);
    this.#rememberReset(stream.id);
    this.#close(stream, "reset");
    this.#output.schedule();
  }

  /** Our END_STREAM went out; a client still sending is asked to stop without error (§8.1). */
  #sentEnd(stream: H2Stream): void {
    this.#move(stream, "send-end-stream");
    if (stream.state === "half-closed-local") this.#resetStream(stream, ErrorCode.NO_ERROR);
  }

  #move(stream: H2Stream, event: StreamEvent): void {
    const next = transition(stream.state, event);
    if (next === undefined) throw new StreamError(ErrorCode.STREAM_CLOSED, `${event} on a ${stream.state} stream`);
    if (next === "closed") this.#close(stream, event);
    else stream.state = next;
  }

  #close(stream: H2Stream, event: StreamEvent): void {
    stream.state = "closed";
    stream.queue.length = 0;
    this.#streams.delete(stream.id);
    this.#blocked.delete(stream);
    if (this.#streams.size === 0) this.#maxCredit = 0;
    if (event === "reset") stream.listener?.abort();
    else this.#completed++;
    if (this.#phase === "going-away") this.#closeWhenIdle();
  }

  #rememberReset(id: number): void {
    this.#resetIds.add(id);
    if (this.#resetIds.size > RESET_MEMORY) this.#resetIds.delete(this.#resetIds.values().next().value!);
  }

  #closeWhenIdle(): void {
    if (this.#streams.size === 0) queueMicrotask(() => this.destroy());
  }

  /** Parses complete frames from `input`; returns how many bytes were consumed. */
  #parse(input: Uint8Array): number {
    let at = 0;
    if (this.#phase === "preface") {
      const available = Math.min(input.length, PREFACE.length);
      for (let i = 0; i < available; i++) {
        if (input[i] !== PREFACE[i]) throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, "not an HTTP/2 connection preface");
      }
      if (available < PREFACE.length) return 0;
      this.#phase = connectionTransition(this.#phase, "preface");
      at = PREFACE.length;
    }
    while (input.length - at >= FRAME_HEADER_LENGTH && this.#phase !== "closed") {
      const length = (input[at]! << 16) | (input[at + 1]! << 8) | input[at + 2]!;
      if (length > OUR_MAX_FRAME_SIZE) throw new ConnectionError(ErrorCode.FRAME_SIZE_ERROR, `frame of ${length} bytes exceeds SETTINGS_MAX_FRAME_SIZE`);
      if (input.length - at < FRAME_HEADER_LENGTH + length) break;
      const type = input[at + 3]!;
      const flags = input[at + 4]!;
      const streamId = ((input[at + 5]! & 0x7f) << 24) | (input[at + 6]! << 16) | (input[at + 7]! << 8) | input[at + 8]!;
      // A copy the frame handlers own (DATA goes to the application as is).
      const payload = input.slice(at + FRAME_HEADER_LENGTH, at + FRAME_HEADER_LENGTH + length);
      at += FRAME_HEADER_LENGTH + length;
      try {
        this.#frame(type, flags, streamId, payload);
      } catch (error) {
        if (!(error instanceof StreamError)) throw error;
        this.#options.onError(`stream ${streamId}: ${error.message}`);
        const stream = this.#streams.get(streamId);
        if (stream !== undefined) this.#resetStream(stream, error.code);
        else {
          this.#out.words(FrameType.RST_STREAM, 0, streamId, error.code);
          this.#rememberReset(streamId);
        }
      }
    }
    return at;
  }

  #frame(type: number, flags: number, streamId: number, payload: Uint8Array): void {
    if (this.#phase === "settings" && (type !== FrameType.SETTINGS || flags & Flag.ACK)) {
      throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, "the first frame after the preface must be SETTINGS");
    }
    // §6.10: a field block is one unit; nothing may interleave with its CONTINUATION frames.
    if (this.#block !== undefined && (type !== FrameType.CONTINUATION || streamId !== this.#block.streamId)) {
      throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, "expected CONTINUATION of the open field block");
    }
    if (type === FrameType.DATA || type === FrameType.HEADERS || type === FrameType.CONTINUATION) this.#lastActivity = this.#now();
    else if (!this.#control.take()) {
      this.#options.counters.controlFloods++;
      throw new ConnectionError(ErrorCode.ENHANCE_YOUR_CALM, `too many control frames (type ${type}): more than ${CONTROL_PER_SECOND}/s beyond a burst of ${CONTROL_BURST}`);
    }
    switch (type) {
      case FrameType.DATA:
        return this.#data(flags, streamId, payload);
      case FrameType.HEADERS:
        return this.#headers(flags, streamId, payload);
      case FrameType.PRIORITY:
        requireStream(streamId, "PRIORITY");
        if (payload.length !== 5) throw new StreamError(ErrorCode.FRAME_SIZE_ERROR, "PRIORITY frame is not 5 bytes");
        return;
      case FrameType.RST_STREAM:
        return this.#rstStream(streamId, payload);
      case FrameType.SETTINGS:
        return this.#settings(flags, streamId, payload);
      case FrameType.PUSH_PROMISE:
        throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, "clients must not send PUSH_PROMISE");
      case FrameType.PING:
        if (streamId !== 0) throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, "PING on a stream");
        if (payload.length !== 8) throw new ConnectionError(ErrorCode.FRAME_SIZE_ERROR, "PING frame is not 8 bytes");
        if (!(flags & Flag.ACK)) this.#out.frame(FrameType.PING, Flag.ACK, 0, payload);
        return;
      case FrameType.GOAWAY:
        if (streamId !== 0) throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, "GOAWAY on a stream");
        if (payload.length < 8) throw new ConnectionError(ErrorCode.FRAME_SIZE_ERROR, "GOAWAY frame shorter than 8 bytes");
        // The client leaves: streams in flight finish, then we close too.
        if (this.#phase === "open") this.#phase = connectionTransition(this.#phase, "goaway");
        this.#closeWhenIdle();
        return;
      case FrameType.WINDOW_UPDATE:
        return this.#windowUpdate(streamId, payload);
      case FrameType.CONTINUATION:
        return this.#continuation(flags, streamId, payload);
      default:
        return; // §5.5: unknown frame types are ignored
    }
  }

  #data(flags: number, streamId: number, payload: Uint8Array): void {
    requireStream(streamId, "DATA");
    // §6.9.1: the whole frame, padding included, counts against the windows.
    this.#consumeWindow(payload.length);
    const stream = this.#streams.get(streamId);
    if (stream === undefined) {
      if (streamId > this.#lastStreamId) throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, `DATA on idle stream ${streamId}`);
      if (this.#resetIds.has(streamId)) return;
      throw new StreamError(ErrorCode.STREAM_CLOSED, "DATA on a closed stream");
    }
    if (!remoteOpen(stream.state)) throw new StreamError(ErrorCode.STREAM_CLOSED, "DATA after END_STREAM");
    const body = unpad(flags, payload, "DATA");
    stream.received += body.length;
    stream.unacked += payload.length;
    if (stream.unacked > OUR_INITIAL_WINDOW) throw new StreamError(ErrorCode.FLOW_CONTROL_ERROR, "DATA beyond the stream window");
    // Credit goes back as data arrives: the request size limit, not the window, bounds memory.
    if (stream.unacked >= OUR_INITIAL_WINDOW / 2 && !(flags & Flag.END_STREAM)) {
      this.#out.words(FrameType.WINDOW_UPDATE, 0, stream.id, stream.unacked);
      stream.unacked = 0;
    }
    if (body.length > 0) stream.listener?.data(body);
    // The application may have answered (and so closed the stream) on this data: one RST_STREAM is enough.
    if (stream.state === "closed") return;
    if (flags & Flag.END_STREAM) {
      this.#remoteEnd(stream);
      stream.listener?.end();
    }
  }

  #consumeWindow(length: number): void {
    this.#unackedConnection += length;
    if (this.#unackedConnection > OUR_CONNECTION_WINDOW) throw new ConnectionError(ErrorCode.FLOW_CONTROL_ERROR, "DATA beyond the connection window");
    if (this.#unackedConnection >= OUR_CONNECTION_WINDOW / 2) {
      this.#out.words(FrameType.WINDOW_UPDATE, 0, 0, this.#unackedConnection);
      this.#unackedConnection = 0;
    }
  }

  /** The client's END_STREAM (the caller then tells the listener). */
  #remoteEnd(stream: H2Stream): void {
    if (stream.expectedLength !== undefined && stream.expectedLength !== stream.received) {
      throw new StreamError(ErrorCode.PROTOCOL_ERROR, "body length differs from content-length");
    }
    this.#move(stream, "recv-end-stream");
  }

  #headers(flags: number, streamId: number, payload: Uint8Array): void {
    requireStream(streamId, "HEADERS");
    let fragment = unpad(flags, payload, "HEADERS");
    if (flags & Flag.PRIORITY) {
      if (fragment.length < 5) throw new ConnectionError(ErrorCode.FRAME_SIZE_ERROR, "HEADERS too short for its priority fields");
      fragment = fragment.subarray(5);
    }
    const end = (flags & Flag.END_STREAM) !== 0;
    if (flags & Flag.END_HEADERS) return this.#fieldBlock(streamId, end, fragment);
    this.#block = { streamId, end, parts: [fragment], size: fragment.length, frames: 1 };
  }

  #continuation(flags: number, streamId: number, payload: Uint8Array): void {
    const block = this.#block;
    if (block === undefined) throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, "CONTINUATION without HEADERS");
    block.size += payload.length;
    if (block.size > MAX_FIELD_BLOCK || ++block.frames > MAX_CONTINUATIONS) {
      throw new ConnectionError(ErrorCode.ENHANCE_YOUR_CALM, "field block too large");
    }
    block.parts.push(payload);
    if (!(flags & Flag.END_HEADERS)) return;
    this.#block = undefined;
    const joined = new Uint8Array(block.size);
    let at = 0;
    for (const part of block.parts) {
      joined.set(part, at);
      at += part.length;
    }
    this.#fieldBlock(streamId, block.end, joined);
  }

  /** A complete field block: always decoded (the HPACK state is shared), then applied. */
  #fieldBlock(streamId: number, end: boolean, block: Uint8Array): void {
    let decoded;
    try {
      decoded = this.#decoder.decode(block);
    } catch (error) {
      if (error instanceof HpackError) throw new ConnectionError(ErrorCode.COMPRESSION_ERROR, `HPACK: ${error.message}`);
      throw error;
    }
    const stream = this.#streams.get(streamId);
    if (stream !== undefined) return this.#trailers(stream, end, decoded.fields);
    if (streamId <= this.#lastStreamId) {
      if (this.#resetIds.has(streamId)) return;
      throw new ConnectionError(ErrorCode.STREAM_CLOSED, `HEADERS on closed stream ${streamId}`);
    }
    if (streamId % 2 === 0) throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, `client stream id ${streamId} is even`);
    this.#lastStreamId = streamId;
    // §6.8: after our GOAWAY, streams above the announced id are ignored.
    if (this.#phase === "going-away") return;
    if (this.#streams.size >= this.#options.maxConcurrentStreams) {
      this.#options.counters.streamsRefused++;
      throw new StreamError(ErrorCode.REFUSED_STREAM, "too many concurrent streams");
    }
    this.#control.credit(CONTROL_PER_REQUEST);
    if (decoded.oversized) throw new StreamError(ErrorCode.ENHANCE_YOUR_CALM, "header list too large");
    const headers = this.#requestHeaders(decoded.fields);
    const length = headers["content-length"];
    const opened = new H2Stream(streamId, this, this.usage, length === undefined ? undefined : Number(length));
    this.#streams.set(streamId, opened);
    this.#lastProcessed = streamId;
    // The state is settled first, so an answer given at once needs no RST_STREAM (§8.1).
    if (end) this.#remoteEnd(opened);
    this.#options.onStream(opened, headers);
    if (end && opened.state !== "closed") opened.listener?.end();
  }

  /**
   * Validates a request's fields. A client repeating the same list (the same field objects from
   * the HPACK tables and literal cache) gets the headers validated for its previous request.
   */
  #requestHeaders(fields: HeaderField[]): RequestHeaders {
    const last = this.#lastRequest;
    if (last !== undefined && sameFields(fields, last.fields)) return last.headers;
    let headers: RequestHeaders;
    try {
      headers = Object.freeze(requestHeaders(fields));
    } catch (error) {
      if (error instanceof MalformedRequest) throw new StreamError(ErrorCode.PROTOCOL_ERROR, error.message);
      throw error;
    }
    this.#lastRequest = { fields, headers };
    return headers;
  }

  #trailers(stream: H2Stream, end: boolean, fields: HeaderField[]): void {
    if (!remoteOpen(stream.state)) throw new StreamError(ErrorCode.STREAM_CLOSED, "HEADERS after END_STREAM");
    if (!end) throw new StreamError(ErrorCode.PROTOCOL_ERROR, "trailers without END_STREAM");
    try {
      checkTrailers(fields);
    } catch (error) {
      if (error instanceof MalformedRequest) throw new StreamError(ErrorCode.PROTOCOL_ERROR, error.message);
      throw error;
    }
    this.#remoteEnd(stream);
    stream.listener?.end();
  }

  #rstStream(streamId: number, payload: Uint8Array): void {
    requireStream(streamId, "RST_STREAM");
    if (payload.length !== 4) throw new ConnectionError(ErrorCode.FRAME_SIZE_ERROR, "RST_STREAM frame is not 4 bytes");
    if (streamId > this.#lastStreamId) throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, `RST_STREAM on idle stream ${streamId}`);
    const stream = this.#streams.get(streamId);
    if (stream === undefined) return;
    this.#close(stream, "reset");
    if (++this.#cancelled > MAX_EXCESS_CANCELS && this.#cancelled > this.#completed) {
      this.#options.counters.rapidResets++;
      throw new ConnectionError(ErrorCode.ENHANCE_YOUR_CALM, `the client cancelled ${this.#cancelled} streams, more than it completed`);
    }
  }

  #settings(flags: number, streamId: number, payload: Uint8Array): void {
    if (streamId !== 0) throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, "SETTINGS on a stream");
    if (flags & Flag.ACK) {
      if (payload.length !== 0) throw new ConnectionError(ErrorCode.FRAME_SIZE_ERROR, "SETTINGS ACK with a payload");
      return;
    }
    if (payload.length % 6 !== 0) throw new ConnectionError(ErrorCode.FRAME_SIZE_ERROR, "SETTINGS length is not a multiple of 6");
    if (payload.length > 6 * MAX_SETTINGS_ENTRIES) {
      this.#options.counters.controlFloods++;
      throw new ConnectionError(ErrorCode.ENHANCE_YOUR_CALM, `SETTINGS frame with ${payload.length / 6} entries (at most ${MAX_SETTINGS_ENTRIES})`);
    }
    const view = new DataView(payload.buffer, payload.byteOffset, payload.length);
    for (let at = 0; at < payload.length; at += 6) {
      const id = view.getUint16(at);
      const value = view.getUint32(at + 2);
      if (id === Setting.ENABLE_PUSH && value > 1) throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, "SETTINGS_ENABLE_PUSH must be 0 or 1");
      if (id === Setting.INITIAL_WINDOW_SIZE) {
        if (value > MAX_WINDOW) throw new ConnectionError(ErrorCode.FLOW_CONTROL_ERROR, "SETTINGS_INITIAL_WINDOW_SIZE above 2^31-1");
        // §6.9.2: the change applies to every open stream's window (each is relative to it).
        this.#peerInitialWindow = value;
        if (value + this.#maxCredit > MAX_WINDOW && [...this.#streams.values()].some((stream) => value + stream.credit > MAX_WINDOW)) {
          throw new ConnectionError(ErrorCode.FLOW_CONTROL_ERROR, "a stream window exceeds 2^31-1");
        }
      }
      if (id === Setting.MAX_FRAME_SIZE) {
        if (value < MIN_MAX_FRAME_SIZE || value > MAX_MAX_FRAME_SIZE) throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, `SETTINGS_MAX_FRAME_SIZE ${value} out of range`);
        this.#peerMaxFrameSize = value;
      }
      // HEADER_TABLE_SIZE: our encoder never uses the dynamic table. Unknown settings are ignored.
    }
    if (this.#phase === "settings") this.#phase = connectionTransition(this.#phase, "settings");
    this.#out.frame(FrameType.SETTINGS, Flag.ACK, 0);
    this.#unblock();
  }

  #windowUpdate(streamId: number, payload: Uint8Array): void {
    if (payload.length !== 4) throw new ConnectionError(ErrorCode.FRAME_SIZE_ERROR, "WINDOW_UPDATE frame is not 4 bytes");
    const increment = new DataView(payload.buffer, payload.byteOffset, 4).getUint32(0) & 0x7fffffff;
    if (streamId === 0) {
      if (increment === 0) throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, "WINDOW_UPDATE with increment 0");
      this.#sendWindow += increment;
      if (this.#sendWindow > MAX_WINDOW) throw new ConnectionError(ErrorCode.FLOW_CONTROL_ERROR, "connection window exceeds 2^31-1");
      this.#unblock();
      return;
    }
    const stream = this.#streams.get(streamId);
    if (stream === undefined) {
      if (streamId > this.#lastStreamId) throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, `WINDOW_UPDATE on idle stream ${streamId}`);
      return; // §5.1: may arrive shortly after the stream closed
    }
    if (increment === 0) throw new StreamError(ErrorCode.PROTOCOL_ERROR, "WINDOW_UPDATE with increment 0");
    stream.credit += increment;
    if (this.#peerInitialWindow + stream.credit > MAX_WINDOW) throw new StreamError(ErrorCode.FLOW_CONTROL_ERROR, "stream window exceeds 2^31-1");
    if (stream.credit > this.#maxCredit) this.#maxCredit = stream.credit;
    this.pump(stream);
  }

  #unblock(): void {
    for (const stream of [...this.#blocked.keys()]) this.pump(stream);
  }

  /** HEADERS, split into CONTINUATION frames beyond the peer's frame size. */
  #writeFieldBlock(streamId: number, block: Uint8Array, end: boolean): void {
    const endFlag = end ? Flag.END_STREAM : 0;
    if (block.length <= this.#peerMaxFrameSize) {
      this.#out.frame(FrameType.HEADERS, endFlag | Flag.END_HEADERS, streamId, block);
      return;
    }
    let at = 0;
    let type: number = FrameType.HEADERS;
    while (at < block.length) {
      const next = Math.min(block.length, at + this.#peerMaxFrameSize);
      const flags = (type === FrameType.HEADERS ? endFlag : 0) | (next === block.length ? Flag.END_HEADERS : 0);
      this.#out.frame(type, flags, streamId, block.subarray(at, next));
      type = FrameType.CONTINUATION;
      at = next;
    }
  }

  /** A connection error: GOAWAY with its code, then the transport is closed. */
  #fail(error: unknown): void {
    const code = error instanceof ConnectionError ? error.code : ErrorCode.INTERNAL_ERROR;
    const message = errorMessage(error);
    this.#options.onError(`connection error: ${message}`);
    if (this.#phase !== "preface") this.#out.words(FrameType.GOAWAY, 0, 0, this.#lastProcessed, code);
    this.destroy();
  }

  #armIdle(idleMs: number): void {
    this.#idleTimer = setTimeout(() => {
      const quietFor = this.#now() - this.#lastActivity;
      if (this.#streams.size === 0 && quietFor >= idleMs) this.goAway();
      else this.#armIdle(Math.max(idleMs - quietFor, 10));
    }, idleMs);
    this.#idleTimer.unref?.();
  }
}

function requireStream(streamId: number, frame: string): void {
  if (streamId === 0) throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, `${frame} on stream 0`);
}

/** §6.1: strips the padding of a PADDED frame; padding covering the payload is a PROTOCOL_ERROR. */
function unpad(flags: number, payload: Uint8Array, frame: string): Uint8Array {
  if (!(flags & Flag.PADDED)) return payload;
  if (payload.length < 1) throw new ConnectionError(ErrorCode.FRAME_SIZE_ERROR, `padded ${frame} without a pad length`);
  const padding = payload[0]!;
  if (padding >= payload.length) throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, `${frame} padding exceeds the payload`);
  return payload.subarray(1, payload.length - padding);
}

/** The same field objects in the same order. */
function sameFields(a: readonly HeaderField[], b: readonly HeaderField[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
