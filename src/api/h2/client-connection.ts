/**
 * The client side of one HTTP/2 connection carrying unary gRPC calls (RFC 9113, cleartext with
 * prior knowledge) on Bun.connect over the agent's Unix socket or loopback TCP. node:http2 in Bun
 * costs ~70 ms to load and more CPU per call than the agent; here a call is two frames appended to
 * a buffer (a cached HPACK block, the pre-encoded body) and the frames of one event-loop turn
 * leave in one write. Used by the benchmarks' load generator (scripts/bench/grpc-client.ts) and by
 * short-lived callers on a latency budget (`tacon pam`, through api/client.ts `callUnaryDirect`).
 */
import type { Socket } from "bun";
import type { Endpoint } from "../../common/endpoint";
import { DEFAULT_WINDOW, ErrorCode, Flag, FRAME_HEADER_LENGTH, FrameBuffer, FrameType, MAX_WINDOW, MIN_MAX_FRAME_SIZE, PREFACE, Setting, settingsPayload } from "./frames";
import { HpackDecoder, HpackError, encodeHeaderBlock } from "./hpack";

/** One finished call: grpc-status, grpc-message (percent-encoded, §"Responses" of the gRPC spec) and the reply message (without its 5-byte prefix). */
export interface CallResult {
  status: number;
  statusMessage: string;
  message: Uint8Array;
}

export type CallDone = (result: CallResult | Error) => void;

/** §5.1.1: client stream ids are odd and never reused; the connection is replaced before they run out. */
const LAST_STREAM_ID = 2 ** 31 - 1;
/** §6.5.2 defaults for what the server may send us (we advertise nothing larger). */
const HEADER_TABLE_SIZE = 4096;
const MAX_HEADER_LIST_SIZE = 64 * 1024;
/**
 * §6.9: every stream window is the largest allowed (a unary reply never waits for credit), and the
 * connection window is opened to the same size at once and refilled when half of it is used.
 */
const RECEIVE_WINDOW = MAX_WINDOW;

const uint32 = (bytes: Uint8Array, at: number): number => ((bytes[at]! << 24) | (bytes[at + 1]! << 16) | (bytes[at + 2]! << 8) | bytes[at + 3]!) >>> 0;

/** The request field block of a path, encoded once (literals without indexing: no table state, §6.2.2 of RFC 7541). */
const requestBlocks = new Map<string, Uint8Array>();
function requestBlock(path: string): Uint8Array {
  let block = requestBlocks.get(path);
  if (block === undefined) {
    block = encodeHeaderBlock([[":method", "POST"], [":scheme", "http"], [":path", path], [":authority", "localhost"], ["content-type", "application/grpc"], ["te", "trailers"]]);
    requestBlocks.set(path, block);
  }
  return block;
}

/** A protocol violation by the server: the connection ends with GOAWAY and every call fails. */
class ConnectionError extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

interface Call {
  done: CallDone;
  status: number;
  statusMessage: string;
  data: Uint8Array | undefined;
}

interface Queued {
  path: string;
  body: Uint8Array;
  done: CallDone;
}

/**
 * The frames of one event-loop iteration leave in one write per connection: setImmediate, not a
 * microtask, because the replies of one connection start calls on all of them (round-robin).
 * A 40,000-call closed loop over 4 connections measured 19 against 22 µs CPU per call; in the
 * quick bench (3 interleaved rounds) the two were within the noise.
 */
const scheduleFlush = (flush: () => void): void => void setImmediate(flush);

/** One HTTP/2 connection carrying unary gRPC calls. */
export class H2ClientConnection {
  #socket: Socket<undefined> | undefined;
  readonly #out = new FrameBuffer();
  /** Bytes the socket did not take yet (the preface first), written on drain. */
  #unsent: Uint8Array | undefined = PREFACE;
  #flushQueued = false;
  readonly #decoder = new HpackDecoder(HEADER_TABLE_SIZE, MAX_HEADER_LIST_SIZE);
  readonly #calls = new Map<number, Call>();
  /** Calls waiting for a stream slot or send window (§5.1.2, §6.9.1), in order. */
  readonly #queue: Queued[] = [];
  #nextStreamId: number;
  #input: Uint8Array | undefined;
  /** A field block waiting for CONTINUATION frames (§6.10). */
  #block: { streamId: number; endStream: boolean; parts: Uint8Array[] } | undefined;
  #sendWindow = DEFAULT_WINDOW;
  #peerInitialWindow = DEFAULT_WINDOW;
  #peerMaxStreams = Number.POSITIVE_INFINITY;
  #peerMaxFrameSize = MIN_MAX_FRAME_SIZE;
  #receivedUnacked = 0;
  #goingAway = false;
  #failure: Error | undefined;
  readonly #settled: { resolve(): void; reject(error: Error): void };
  /** Resolves at the server's first SETTINGS, rejects when the connection fails before. */
  readonly ready: Promise<void>;

  constructor(endpoint: Endpoint, firstStreamId = 1) {
    if (firstStreamId % 2 !== 1) throw new Error(`client stream ids are odd (RFC 9113 §5.1.1), not ${firstStreamId}`);
    this.#nextStreamId = firstStreamId;
    let settled!: { resolve(): void; reject(error: Error): void };
    this.ready = new Promise<void>((resolve, reject) => (settled = { resolve, reject }));
    this.ready.catch(() => {}); // a caller that never awaits it hears of the failure through its calls
    this.#settled = settled;
    this.#out.frame(FrameType.SETTINGS, 0, 0, settingsPayload([
      [Setting.ENABLE_PUSH, 0],
      [Setting.INITIAL_WINDOW_SIZE, RECEIVE_WINDOW],
    ]));
    this.#out.words(FrameType.WINDOW_UPDATE, 0, 0, RECEIVE_WINDOW - DEFAULT_WINDOW);
    const target = endpoint.kind === "unix" ? { unix: endpoint.path } : { hostname: endpoint.host, port: endpoint.port };
    Bun.connect<undefined>({
      ...target,
      socket: {
        binaryType: "uint8array",
        open: (socket) => {
          if (endpoint.kind === "tcp") socket.setNoDelay(true);
          this.#socket = socket;
          this.#flush();
        },
        data: (_socket, chunk) => this.#receive(chunk),
        drain: () => this.#flush(),
        close: () => this.#fail(new Error(this.#goingAway ? "connection closed after GOAWAY" : "connection closed by the server")),
        error: (_socket, error) => this.#fail(error),
        connectError: (_socket, error) => this.#fail(error),
      },
    } as Parameters<typeof Bun.connect<undefined>>[0]).catch((error: Error) => this.#fail(error));
  }

  /** False after GOAWAY, a failure, or once the stream ids are used up: the client opens another connection. */
  get acceptsCalls(): boolean {
    return !this.#goingAway && this.#failure === undefined && this.#nextStreamId <= LAST_STREAM_ID;
  }

  /** Failed without GOAWAY (refused, reset, a protocol error, closed by us): not replaced. */
  get failed(): boolean {
    return this.#failure !== undefined && !this.#goingAway;
  }

  call(path: string, body: Uint8Array, done: CallDone): void {
    if (!this.acceptsCalls) {
      // Later, not now: a closed loop that calls again from `done` must not recurse.
      const error = this.#failure ?? new Error("the connection takes no new streams (GOAWAY or stream ids used up)");
      setImmediate(() => done(error));
      return;
    }
    if (body.length > this.#peerMaxFrameSize) return done(new Error(`request body of ${body.length} bytes exceeds the server's SETTINGS_MAX_FRAME_SIZE`));
    if (this.#queue.length > 0 || !this.#canStart(body.length)) this.#queue.push({ path, body, done });
    else this.#start(path, body, done);
  }

  /** Calls in flight finish; the socket closes when none is left. */
  closeWhenIdle(): void {
    this.#goingAway = true;
    if (this.#calls.size === 0 && this.#queue.length === 0) this.close();
  }

  /** GOAWAY NO_ERROR and close; calls in flight fail. */
  close(): void {
    this.#abandon(ErrorCode.NO_ERROR, new Error("client closed"));
  }

  /** GOAWAY (§6.8) and close; calls in flight and queued fail with `reason`. */
  #abandon(code: number, reason: Error): void {
    if (this.#failure !== undefined) return;
    this.#out.words(FrameType.GOAWAY, 0, 0, 0, code);
    this.#flush();
    this.#fail(reason); // first: ending the socket runs its close handler at once
    this.#socket?.end();
  }

  #canStart(bodyLength: number): boolean {
    return this.#calls.size < this.#peerMaxStreams && bodyLength <= this.#sendWindow && bodyLength <= this.#peerInitialWindow;
  }

  /** HEADERS (END_HEADERS) + DATA (END_STREAM): the whole request at once (§8.1). */
  #start(path: string, body: Uint8Array, done: CallDone): void {
    const id = this.#nextStreamId;
    this.#nextStreamId += 2;
    this.#calls.set(id, { done, status: -1, statusMessage: "", data: undefined });
    this.#out.frame(FrameType.HEADERS, Flag.END_HEADERS, id, requestBlock(path));
    this.#out.frame(FrameType.DATA, Flag.END_STREAM, id, body);
    this.#sendWindow -= body.length;
    if (!this.#flushQueued) {
      this.#flushQueued = true;
      scheduleFlush(() => this.#flush());
    }
  }

  /** Starts queued calls that fit now (a stream ended, SETTINGS or WINDOW_UPDATE arrived). */
  #startQueued(): void {
    while (this.#queue.length > 0 && this.acceptsCalls && this.#canStart(this.#queue[0]!.body.length)) {
      const { path, body, done } = this.#queue.shift()!;
      this.#start(path, body, done);
    }
  }

  /** Writes the collected frames (nothing before the socket is open: the first flush sends the preface and all so far). */
  #flush(): void {
    this.#flushQueued = false;
    if (this.#socket === undefined) return;
    let bytes = this.#out.take();
    if (this.#unsent !== undefined) {
      bytes = Buffer.concat([this.#unsent, bytes]);
      this.#unsent = undefined;
    }
    if (bytes.length === 0) return;
    const written = this.#socket.write(bytes);
    // The rest waits for drain; copied because `bytes` may be a view of the reused frame buffer.
    if (written < bytes.length) this.#unsent = bytes.slice(Math.max(0, written));
  }

  #receive(chunk: Uint8Array): void {
    let input = chunk;
    if (this.#input !== undefined) {
      input = Buffer.concat([this.#input, chunk]);
      this.#input = undefined;
    }
    let at = 0;
    try {
      while (input.length - at >= FRAME_HEADER_LENGTH && this.#failure === undefined) {
        const length = (input[at]! << 16) | (input[at + 1]! << 8) | input[at + 2]!;
        // §4.2: we never raised SETTINGS_MAX_FRAME_SIZE above the default.
        if (length > MIN_MAX_FRAME_SIZE) throw new ConnectionError(ErrorCode.FRAME_SIZE_ERROR, `frame of ${length} bytes exceeds SETTINGS_MAX_FRAME_SIZE`);
        if (input.length - at - FRAME_HEADER_LENGTH < length) break;
        const streamId = uint32(input, at + 5) & LAST_STREAM_ID;
        // A copy: in Bun, slicing a few bytes costs less than a view (subarray, or `.buffer` of a socket chunk).
        const payload = input.slice(at + FRAME_HEADER_LENGTH, at + FRAME_HEADER_LENGTH + length);
        this.#frame(input[at + 3]!, input[at + 4]!, streamId, payload);
        at += FRAME_HEADER_LENGTH + length;
      }
    } catch (error) {
      // Only the server's frames are blamed; an exception from a caller's `done` is the caller's.
      if (!(error instanceof ConnectionError || error instanceof HpackError)) throw error;
      const code = error instanceof ConnectionError ? error.code : ErrorCode.COMPRESSION_ERROR;
      return this.#abandon(code, new Error(`HTTP/2 connection error from the server's frames: ${error.message}`));
    }
    if (at < input.length && this.#failure === undefined) this.#input = input.slice(at);
    if (this.#out.length > 0) this.#flush();
  }

  #frame(type: number, flags: number, streamId: number, payload: Uint8Array): void {
    if (this.#block !== undefined && (type !== FrameType.CONTINUATION || streamId !== this.#block.streamId)) {
      throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, "expected CONTINUATION of the open field block (§6.10)");
    }
    switch (type) {
      case FrameType.DATA:
        return this.#data(flags, streamId, payload);
      case FrameType.HEADERS:
        return this.#headers(flags, streamId, payload);
      case FrameType.CONTINUATION:
        if (this.#block === undefined) throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, "CONTINUATION without a field block");
        this.#block.parts.push(payload);
        if (flags & Flag.END_HEADERS) {
          const { streamId: id, endStream, parts } = this.#block;
          this.#block = undefined;
          this.#fieldBlock(id, endStream, Buffer.concat(parts));
        }
        return;
      case FrameType.RST_STREAM:
        if (payload.length !== 4) throw new ConnectionError(ErrorCode.FRAME_SIZE_ERROR, "RST_STREAM frame is not 4 bytes");
        return this.#end(streamId, new Error(`stream reset by the server (error code ${uint32(payload, 0)})`));
      case FrameType.SETTINGS:
        return this.#settings(flags, streamId, payload);
      case FrameType.PUSH_PROMISE:
        throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, "PUSH_PROMISE although SETTINGS_ENABLE_PUSH is 0 (§8.4)");
      case FrameType.PING:
        if (payload.length !== 8) throw new ConnectionError(ErrorCode.FRAME_SIZE_ERROR, "PING frame is not 8 bytes");
        if (!(flags & Flag.ACK)) this.#out.frame(FrameType.PING, Flag.ACK, 0, payload);
        return;
      case FrameType.GOAWAY:
        if (payload.length < 8) throw new ConnectionError(ErrorCode.FRAME_SIZE_ERROR, "GOAWAY frame shorter than 8 bytes");
        return this.#goAway(uint32(payload, 0) & LAST_STREAM_ID, uint32(payload, 4));
      case FrameType.WINDOW_UPDATE:
        if (payload.length !== 4) throw new ConnectionError(ErrorCode.FRAME_SIZE_ERROR, "WINDOW_UPDATE frame is not 4 bytes");
        // Our requests are sent whole at once, so only the connection window can hold one back.
        if (streamId === 0) this.#sendWindow += uint32(payload, 0) & LAST_STREAM_ID;
        return this.#startQueued();
      default:
        return; // PRIORITY and unknown types (§5.5) are ignored
    }
  }

  #data(flags: number, streamId: number, payload: Uint8Array): void {
    // §6.9.1: the whole payload, padding included, counts against the connection window.
    this.#receivedUnacked += payload.length;
    if (this.#receivedUnacked >= RECEIVE_WINDOW / 2) {
      this.#out.words(FrameType.WINDOW_UPDATE, 0, 0, this.#receivedUnacked);
      this.#receivedUnacked = 0;
    }
    const call = this.#calls.get(streamId);
    if (call === undefined) return; // a stream that already failed
    const body = unpad(flags, payload);
    call.data = call.data === undefined ? body : Buffer.concat([call.data, body]);
    if (flags & Flag.END_STREAM) this.#end(streamId);
  }

  #headers(flags: number, streamId: number, payload: Uint8Array): void {
    let fragment = unpad(flags, payload);
    if (flags & Flag.PRIORITY) {
      if (fragment.length < 5) throw new ConnectionError(ErrorCode.FRAME_SIZE_ERROR, "HEADERS with PRIORITY shorter than 5 bytes");
      fragment = fragment.slice(5);
    }
    const endStream = (flags & Flag.END_STREAM) !== 0;
    if (flags & Flag.END_HEADERS) this.#fieldBlock(streamId, endStream, fragment);
    else this.#block = { streamId, endStream, parts: [fragment] };
  }

  /** Response headers, trailers, or a trailers-only response; decoded always (the HPACK table is per connection). */
  #fieldBlock(streamId: number, endStream: boolean, block: Uint8Array): void {
    const { fields } = this.#decoder.decode(block);
    const call = this.#calls.get(streamId);
    if (call === undefined) return;
    for (const [name, value] of fields) {
      if (name === "grpc-status" && /^\d{1,3}$/.test(value)) call.status = Number(value);
      else if (name === "grpc-message") call.statusMessage = value;
    }
    if (endStream) this.#end(streamId);
  }

  #settings(flags: number, streamId: number, payload: Uint8Array): void {
    if (streamId !== 0) throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, "SETTINGS on a stream");
    if (flags & Flag.ACK) return;
    if (payload.length % 6 !== 0) throw new ConnectionError(ErrorCode.FRAME_SIZE_ERROR, "SETTINGS length is not a multiple of 6");
    for (let at = 0; at < payload.length; at += 6) {
      const id = (payload[at]! << 8) | payload[at + 1]!;
      const value = uint32(payload, at + 2);
      if (id === Setting.MAX_CONCURRENT_STREAMS) this.#peerMaxStreams = value;
      if (id === Setting.INITIAL_WINDOW_SIZE) this.#peerInitialWindow = value;
      if (id === Setting.MAX_FRAME_SIZE) this.#peerMaxFrameSize = value;
    }
    this.#out.frame(FrameType.SETTINGS, Flag.ACK, 0);
    this.#settled.resolve();
    this.#startQueued();
  }

  /** §6.8: streams above the last one the server processed failed; the rest finish. */
  #goAway(lastStreamId: number, code: number): void {
    this.#goingAway = true;
    for (const id of [...this.#calls.keys()]) if (id > lastStreamId) this.#end(id, new Error(`GOAWAY (error code ${code}) before the server processed the call`));
    for (const { done } of this.#queue.splice(0)) done(new Error(`GOAWAY (error code ${code}) before the call was sent`));
    this.closeWhenIdle();
  }

  /** The stream is over: its result, or `error`. */
  #end(streamId: number, error?: Error): void {
    const call = this.#calls.get(streamId);
    if (call === undefined) return;
    this.#calls.delete(streamId);
    if (error !== undefined) call.done(error);
    else if (call.status < 0) call.done(new Error("call closed without a valid grpc-status"));
    else call.done({ status: call.status, statusMessage: call.statusMessage, message: call.data === undefined ? new Uint8Array(0) : call.data.slice(5) });
    if (this.#goingAway) this.closeWhenIdle();
    else if (this.#queue.length > 0) this.#startQueued();
  }

  #fail(error: Error): void {
    if (this.#failure !== undefined) return;
    this.#failure = error;
    this.#settled.reject(error);
    const calls = [...this.#calls.values(), ...this.#queue.splice(0)];
    this.#calls.clear();
    for (const { done } of calls) done(error);
  }
}

/** §6.1: a PADDED frame's padding is dropped. */
function unpad(flags: number, payload: Uint8Array): Uint8Array {
  if (!(flags & Flag.PADDED)) return payload;
  const padding = payload[0];
  if (padding === undefined || padding >= payload.length) throw new ConnectionError(ErrorCode.PROTOCOL_ERROR, "padding exceeds the payload");
  return payload.slice(1, payload.length - padding);
}
