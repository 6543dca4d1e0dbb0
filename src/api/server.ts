/**
 * A strict, small gRPC server on our own HTTP/2 (`h2/`, cleartext, prior knowledge): unary and
 * server-streaming methods, deadlines, limits, trailers-only errors, graceful close.
 * It knows nothing about TACACS+: routes map a path to a handler.
 */
import { Cancellation } from "../common/cancellation";
import type { Endpoint } from "../common/endpoint";
import { listenLocal, type BoundEndpoint } from "../common/local-socket";
import type { Logger } from "../common/log";
import type { PeerCredentials } from "../common/peer-credentials";
import type { ConnectionCounts } from "../common/request-metrics";
import { systemClock } from "../upstream/clock";
import { DeadlineSweeper } from "../upstream/deadlines";
import { MessageReader } from "./framing";
import { decodeMessage, encodeReply, type MethodDescriptor } from "./proto";
import { encodeHeaderBlock, H2Server, type ConnectionUsage, type H2Counters, type H2Stream, type RequestHeaders, type StreamListener } from "./h2/server";
import { encodeGrpcMessage, GrpcError, parseGrpcTimeout, Status, statusName } from "./status";
import { errorMessage } from "../common/error-message";
import { peerShare } from "../common/limits";
import { describePeer } from "./h2/peers";

export interface CallContext {
  /** Absolute deadline on the Date.now() scale. */
  readonly deadline: number;
  /** Cancelled when the deadline passes, the caller goes away or the server shuts down. */
  readonly cancellation: Cancellation;
  /** The caller's process on a Unix socket (SO_PEERCRED); undefined over TCP. */
  readonly peer: PeerCredentials | undefined;
}

/** Handlers receive the decoded request (a protobufjs message) and return a plain reply object. */
export type Route =
  | {
      method: MethodDescriptor;
      kind: "unary";
      handle(request: unknown, context: CallContext): Promise<object>;
      /** Counts a call refused at the concurrent-call limit, before its handler ran. */
      refused?(): void;
    }
  | {
      method: MethodDescriptor;
      kind: "server-stream";
      /** Sends messages with `send`; resolves when the stream is complete (status OK). */
      handle(request: unknown, context: CallContext, send: (reply: object) => void): Promise<void>;
    };

export interface GrpcServerOptions {
  routes: readonly Route[];
  /**
   * Concurrent calls over all connections; beyond it calls fail with RESOURCE_EXHAUSTED. A call
   * the client cancelled counts until its handler has returned (its upstream work goes on until then).
   */
  maxConcurrentCalls: number;
  /** SETTINGS_MAX_CONCURRENT_STREAMS of each connection (default DEFAULT_STREAMS_PER_CONNECTION, at most maxConcurrentCalls). */
  maxStreamsPerConnection?: number;
  /** Concurrent server-streaming calls (health Watch), which may last for ever (default DEFAULT_STREAMING_CALLS). */
  maxStreamingCalls?: number;
  /** Request bytes held over all calls beyond each call's first FREE_CALL_BYTES (default DEFAULT_BUFFERED_BYTES). */
  maxBufferedBytes?: number;
  /** Open connections; a new one beyond it is closed at once (logged at warn). Default 512. */
  maxConnections?: number;
  /**
   * Concurrent calls of one peer (a uid on the Unix socket, all TCP clients as one; see
   * h2/peers.ts), so one local user cannot take every slot. Default peerShare(maxConcurrentCalls).
   */
  maxCallsPerPeer?: number;
  /** Open connections of one peer. Default peerShare(maxConnections). */
  maxConnectionsPerPeer?: number;
  /** Largest request message accepted. */
  maxMessageBytes: number;
  /** Deadline of calls that send no grpc-timeout. */
  defaultTimeoutMs: number;
  /** A connection without traffic and without calls in flight for this long is closed (GOAWAY). */
  idleTimeoutMs?: number;
  /** Connection counters for metrics, updated in place. */
  connectionCounts?: ConnectionCounts;
  log: Logger;
}

const CONTENT_TYPE = /^application\/grpc(\+proto)?(;.*)?$/;
/** Idle connections cost a file descriptor each; clients reconnect transparently after GOAWAY. */
export const DEFAULT_IDLE_TIMEOUT_MS = 300_000;
const DEFAULT_MAX_CONNECTIONS = 512;
export const DEFAULT_STREAMS_PER_CONNECTION = 100;
export const DEFAULT_STREAMING_CALLS = 64;
export const DEFAULT_BUFFERED_BYTES = 64 * 1024 * 1024;
/**
 * Every call may hold this much of its request without asking the shared budget, so small calls
 * go through while large uploads are refused; the budget of one connection is a quarter of all.
 */
const FREE_CALL_BYTES = 64 * 1024;
const CONNECTION_BUFFER_SHARE = 4;
/**
 * Above this fraction of maxConcurrentCalls, a connection holding its fair share
 * (limit / (busy connections + 1)) gets no more calls, so the rest stays for the others.
 */
const CROWDED = 0.75;
/** How long closed calls get to flush their trailers before sessions are destroyed. */
const SESSION_DRAIN_MS = 250;

/** Deadlines beyond 2^31-1 ms (setTimeout's limit) are "never" in practice. */
const MAX_TIMER_MS = 2 ** 31 - 1;

const GRPC_FIELDS = [
  ["content-type", "application/grpc"],
  ["grpc-accept-encoding", "identity"],
] as const;
/** The header blocks of every successful reply, encoded once. */
const RESPONSE_HEADERS = encodeHeaderBlock([[":status", "200"], ...GRPC_FIELDS]);
const OK_TRAILERS = encodeHeaderBlock([["grpc-status", "0"]]);

/** Calls refused by a limit of the gRPC layer, one plain number per reason, and the bytes held. */
export interface CallCounters {
  /** Beyond --max-api-streams. */
  callsRefused: number;
  /** Beyond --max-api-watch-streams (or a connection's quarter of it, or a peer's half). */
  streamingRefused: number;
  /** Beyond --max-api-streams-per-peer: one peer (uid) holds its share of the calls. */
  peerCallsRefused: number;
  /** A connection asking beyond its fair share while the calls are crowded. */
  fairShareRefused: number;
  /** A request body beyond the shared buffer budget (global or the connection's part). */
  bufferRefused: number;
  /** Gauge: request bytes held now, over all calls. */
  bufferedBytes: number;
  /** Gauge: calls the client cancelled whose handler has not returned yet (they keep their slot). */
  cancelledRunning: number;
}

export interface ApiCounters {
  http2: H2Counters;
  calls: CallCounters;
  /** Gauge: peers (uids; all TCP clients as one) holding a connection or a call now. */
  peers: number;
}

/** What a call needs of its server. */
interface CallHost {
  readonly maxMessageBytes: number;
  /** Accounts `delta` bytes more (or fewer) held by the call's request; throws GrpcError beyond the budget. */
  hold(call: Call, delta: number): void;
  dispatch(call: Call, request: unknown): void;
  /** Fails the call with any thrown value (see asGrpcError). */
  fail(call: Call, error: unknown): void;
  finish(call: Call, abortReason: string): void;
}

/**
 * One call in flight: its stream's listener, and the CallContext its handler gets (one object
 * instead of a context, a listener and its closures per call).
 */
class Call implements CallContext, StreamListener {
  readonly cancellation = new Cancellation();
  done = false;
  /** The handler has not settled yet. */
  running = false;
  /** The call's slot was given back. */
  released = false;
  /** Request bytes accounted to the call. */
  held = 0;
  readonly #host: CallHost;
  readonly #reader: MessageReader;

  constructor(
    host: CallHost,
    readonly route: Route,
    readonly stream: H2Stream,
    readonly deadline: number,
    /** The grpc-timeout the deadline came from. */
    readonly timeoutMs: number,
    readonly peer: PeerCredentials | undefined,
  ) {
    this.#host = host;
    this.#reader = new MessageReader(host.maxMessageBytes);
  }

  get streaming(): boolean {
    return this.route.kind === "server-stream";
  }

  data(chunk: Uint8Array): void {
    if (this.done) return;
    try {
      this.#reader.push(chunk);
      this.#host.hold(this, this.#reader.heldBytes - this.held);
    } catch (error) {
      this.#host.fail(this, error);
    }
  }

  end(): void {
    if (this.done) return;
    let request: unknown;
    try {
      request = decodeRequest(this.route.method, this.#reader.single());
      this.#host.hold(this, -this.held);
    } catch (error) {
      this.#host.fail(this, error);
      return;
    }
    this.#host.dispatch(this, request);
  }

  /** The caller went away (RST_STREAM, connection closed): cancel the upstream request. */
  abort(): void {
    this.#host.finish(this, "the caller cancelled the call");
  }
}

export class GrpcServer {
  readonly #options: GrpcServerOptions;
  readonly #routes: Map<string, Route>;
  readonly #server: H2Server;
  readonly #calls = new Set<Call>();
  readonly #callCounters: CallCounters = { callsRefused: 0, streamingRefused: 0, peerCallsRefused: 0, fairShareRefused: 0, bufferRefused: 0, bufferedBytes: 0, cancelledRunning: 0 };
  /** Streaming calls now, and connections with a call now (for fair shares). */
  #streaming = 0;
  #busyConnections = 0;
  readonly #maxCallsPerPeer: number;
  /** One timer for all call deadlines instead of one per call. */
  readonly #deadlines = new DeadlineSweeper<Call>(systemClock, (call) =>
    this.#fail(call, new GrpcError(Status.DEADLINE_EXCEEDED, `deadline of ${call.timeoutMs} ms exceeded`)),
  );
  readonly #host: CallHost;
  #bound: BoundEndpoint | undefined;
  #closing: Promise<void> | undefined;
  #drained: (() => void) | undefined;

  constructor(options: GrpcServerOptions) {
    this.#options = options;
    this.#routes = new Map(options.routes.map((route) => [route.method.path, route]));
    this.#host = {
      maxMessageBytes: options.maxMessageBytes,
      hold: (call, delta) => this.#hold(call, delta),
      dispatch: (call, request) => this.#dispatch(call, request),
      fail: (call, error) => this.#fail(call, asGrpcError(error, options.log)),
      finish: (call, abortReason) => this.#finish(call, abortReason),
    };
    const maxConnections = options.maxConnections ?? DEFAULT_MAX_CONNECTIONS;
    this.#maxCallsPerPeer = options.maxCallsPerPeer ?? peerShare(options.maxConcurrentCalls);
    this.#server = new H2Server({
      maxConcurrentStreams: Math.min(options.maxStreamsPerConnection ?? DEFAULT_STREAMS_PER_CONNECTION, options.maxConcurrentCalls),
      maxConnections,
      maxConnectionsPerPeer: options.maxConnectionsPerPeer ?? peerShare(maxConnections),
      ...(options.connectionCounts ? { counts: options.connectionCounts } : {}),
      onConnectionRefused: (reason) => options.log.warn(`api: connection refused: ${reason}`),
      // A connection with a call in flight (a quiet Watch, a slow upstream) is never idle.
      idleTimeoutMs: options.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS,
      onStream: (stream, headers, peer) => this.#onStream(stream, headers, peer),
      onError: (message) => options.log.debug(`api: ${message}`),
    });
  }

  /** Binds the listener (Unix socket with `socketMode`, or loopback TCP). */
  async listen(endpoint: Endpoint, socketMode: number): Promise<Endpoint> {
    this.#bound = await listenLocal(this.#server, endpoint, socketMode);
    return this.#bound.endpoint;
  }

  get activeCalls(): number {
    return this.#calls.size;
  }

  /** Refusals per reason and gauges (plain numbers, live: read them, do not copy them once). */
  get counters(): ApiCounters {
    return { http2: this.#server.counters, calls: this.#callCounters, peers: this.#server.peers.size };
  }

  get closing(): boolean {
    return this.#closing !== undefined;
  }

  /**
   * Stops accepting connections and calls, lets calls in flight finish within `graceMs`, then
   * cancels the rest (UNAVAILABLE), closes every connection and removes the Unix socket.
   * Streaming calls (health Watch) end at once. Idempotent.
   */
  close(graceMs: number): Promise<void> {
    this.#closing ??= this.#shutdown(graceMs);
    return this.#closing;
  }

  async #shutdown(graceMs: number): Promise<void> {
    this.#server.close();
    this.#server.goAway();
    for (const call of [...this.#calls]) {
      if (call.streaming) this.#fail(call, new GrpcError(Status.UNAVAILABLE, "the agent is shutting down"));
    }
    if (this.#calls.size > 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, graceMs);
        this.#drained = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
    for (const call of [...this.#calls]) {
      this.#fail(call, new GrpcError(Status.UNAVAILABLE, "the agent is shutting down; the call was cancelled"));
    }
    await this.#server.closed(SESSION_DRAIN_MS);
    this.#server.destroy();
    this.#bound?.release();
  }

  #onStream(stream: H2Stream, headers: RequestHeaders, peer: PeerCredentials | undefined): void {
    try {
      const route = this.#admit(headers, stream.usage);
      this.#startCall(stream, headers, route, peer);
    } catch (error) {
      respondError(stream, asGrpcError(error, this.#options.log));
    }
  }

  /** Checks everything that can be checked from the request headers, and the limits. */
  #admit(headers: RequestHeaders, usage: ConnectionUsage): Route {
    if (this.#closing !== undefined) throw new GrpcError(Status.UNAVAILABLE, "the agent is shutting down");
    if (headers[":method"] !== "POST") {
      throw new GrpcError(Status.UNIMPLEMENTED, `HTTP method ${String(headers[":method"])} is not supported; gRPC uses POST`, 405);
    }
    const contentType = headers["content-type"] ?? "";
    if (!CONTENT_TYPE.test(contentType)) {
      throw new GrpcError(Status.INVALID_ARGUMENT, `unsupported content-type ${JSON.stringify(contentType.slice(0, 60))}; expected application/grpc`, 415);
    }
    const path = headers[":path"] ?? "";
    const route = this.#routes.get(path);
    if (route === undefined) throw new GrpcError(Status.UNIMPLEMENTED, `unknown method ${path.slice(0, 200)}`);
    try {
      this.#checkLimits(route, usage);
    } catch (error) {
      if (route.kind === "unary") route.refused?.();
      throw error;
    }
    return route;
  }

  #checkLimits(route: Route, usage: ConnectionUsage): void {
    const counters = this.#callCounters;
    const limit = this.#options.maxConcurrentCalls;
    if (this.#calls.size >= limit) {
      counters.callsRefused++;
      throw new GrpcError(Status.RESOURCE_EXHAUSTED, `too many concurrent calls (limit ${limit})`);
    }
    const peer = usage.peer;
    if (peer.calls >= this.#maxCallsPerPeer) {
      counters.peerCallsRefused++;
      throw new GrpcError(Status.RESOURCE_EXHAUSTED, `${describePeer(peer.key)} has ${peer.calls} calls in flight (--max-api-streams-per-peer ${this.#maxCallsPerPeer})`);
    }
    if (route.kind === "server-stream") {
      const maxStreaming = this.#options.maxStreamingCalls ?? DEFAULT_STREAMING_CALLS;
      if (this.#streaming >= maxStreaming || usage.streaming >= Math.max(1, Math.ceil(maxStreaming / 4)) || peer.streaming >= peerShare(maxStreaming)) {
        counters.streamingRefused++;
        throw new GrpcError(Status.RESOURCE_EXHAUSTED, `too many streaming calls (limit ${maxStreaming}, a quarter of it per connection, half per peer)`);
      }
    }
    if (this.#calls.size >= limit * CROWDED && usage.calls >= Math.ceil(limit / (this.#busyConnections + 1))) {
      counters.fairShareRefused++;
      throw new GrpcError(Status.RESOURCE_EXHAUSTED, `this connection holds its fair share of the ${limit} concurrent calls`);
    }
  }

  #hold(call: Call, delta: number): void {
    if (delta === 0) return;
    call.held += delta;
    call.stream.usage.bufferedBytes += delta;
    this.#callCounters.bufferedBytes += delta;
    if (delta < 0 || call.held <= FREE_CALL_BYTES) return;
    const budget = this.#options.maxBufferedBytes ?? DEFAULT_BUFFERED_BYTES;
    if (this.#callCounters.bufferedBytes > budget || call.stream.usage.bufferedBytes > budget / CONNECTION_BUFFER_SHARE) {
      this.#callCounters.bufferRefused++;
      throw new GrpcError(Status.RESOURCE_EXHAUSTED, `request buffers are full (${budget} bytes, a quarter of it per connection); retry later`);
    }
  }

  #startCall(stream: H2Stream, headers: RequestHeaders, route: Route, peer: PeerCredentials | undefined): void {
    const streaming = route.kind === "server-stream";
    const timeoutHeader = headers["grpc-timeout"];
    // Unary calls without a deadline get the default one; a Watch without one lasts until cancelled.
    const timeoutMs = timeoutHeader !== undefined ? parseGrpcTimeout(timeoutHeader) : streaming ? Infinity : this.#options.defaultTimeoutMs;
    const deadline = Date.now() + timeoutMs;
    const call = new Call(this.#host, route, stream, deadline, timeoutMs, peer);
    this.#calls.add(call);
    const usage = stream.usage;
    if (usage.calls++ === 0) this.#busyConnections++;
    usage.peer.calls++;
    if (streaming) {
      this.#streaming++;
      usage.streaming++;
      usage.peer.streaming++;
    }
    if (timeoutMs <= MAX_TIMER_MS) this.#deadlines.add(call);
    stream.listener = call;
  }

  #dispatch(call: Call, request: unknown): void {
    const route = call.route;
    call.running = true;
    if (route.kind === "unary") {
      // A handler that throws before its first await fails the call the same way as one that
      // rejects later (not Promise.try: its closure and adopting the handler's promise cost more).
      let replied: Promise<object>;
      try {
        replied = route.handle(request, call);
      } catch (error) {
        replied = Promise.reject(error);
      }
      replied.then(
        (reply) => {
          this.#settled(call);
          if (call.done) return;
          let frame: Uint8Array;
          try {
            frame = encodeReply(route.method.responseType, reply);
          } catch (error) {
            this.#fail(call, asGrpcError(error, this.#options.log));
            return;
          }
          this.#finish(call);
          respondMessage(call.stream, frame);
        },
        (error) => {
          this.#settled(call);
          this.#fail(call, asGrpcError(error, this.#options.log));
        },
      );
      return;
    }
    const send = (reply: object) => {
      if (call.done || !call.stream.writable) return;
      if (!call.stream.headersSent) call.stream.sendHeaders(RESPONSE_HEADERS, false);
      call.stream.sendData(encodeReply(route.method.responseType, reply), false);
    };
    Promise.try(() => route.handle(request, call, send)).then(
      () => {
        this.#settled(call);
        if (call.done) return;
        this.#finish(call);
        endStream(call.stream, Status.OK, "");
      },
      (error) => {
        this.#settled(call);
        this.#fail(call, asGrpcError(error, this.#options.log));
      },
    );
  }

  /** The handler returned: a call that already ended gives its slot back now. */
  #settled(call: Call): void {
    call.running = false;
    if (!call.done) return;
    this.#callCounters.cancelledRunning--;
    this.#release(call);
  }

  /** Ends the call with an error status (if the stream is still writable) and cancels its work. */
  #fail(call: Call, error: GrpcError): void {
    if (call.done) return;
    this.#options.log.debug(`api: ${call.route.method.path} ended with ${statusName(error.code)}: ${error.message}`);
    this.#finish(call, error.message);
    if (call.stream.headersSent) endStream(call.stream, error.code, error.message);
    else respondError(call.stream, error);
  }

  #finish(call: Call, abortReason?: string): void {
    if (call.done) return;
    call.done = true;
    this.#deadlines.delete(call);
    if (abortReason !== undefined) call.cancellation.cancel(new GrpcError(Status.CANCELLED, abortReason));
    this.#hold(call, -call.held);
    // A handler still running (cancelled, or past its deadline) keeps the slot until it returns.
    if (call.running) this.#callCounters.cancelledRunning++;
    else this.#release(call);
  }

  #release(call: Call): void {
    if (call.released) return;
    call.released = true;
    this.#calls.delete(call);
    const usage = call.stream.usage;
    if (--usage.calls === 0) this.#busyConnections--;
    usage.peer.calls--;
    if (call.streaming) {
      this.#streaming--;
      usage.streaming--;
      usage.peer.streaming--;
    }
    this.#server.peers.release(usage.peer);
    if (this.#calls.size === 0) this.#drained?.();
  }
}

function decodeRequest(method: MethodDescriptor, bytes: Uint8Array): unknown {
  try {
    return decodeMessage(method.requestType, bytes);
  } catch (error) {
    throw new GrpcError(Status.INVALID_ARGUMENT, `malformed ${method.requestType.name} message: ${(error as Error).message}`);
  }
}

/** Any thrown value as a GrpcError; unexpected errors become INTERNAL without details. */
function asGrpcError(error: unknown, log: Logger): GrpcError {
  if (error instanceof GrpcError) return error;
  log.error(`api: unexpected error in a call: ${errorMessage(error)}`);
  return new GrpcError(Status.INTERNAL, "internal error in the agent");
}

/** A complete reply: headers, one message, trailers with grpc-status 0 (one write with the tick's other frames). */
function respondMessage(stream: H2Stream, frame: Uint8Array): void {
  stream.sendHeaders(RESPONSE_HEADERS, false);
  stream.sendData(frame, false);
  stream.sendHeaders(OK_TRAILERS, true);
}

/**
 * A trailers-only reply. A client still sending its request body is then asked to stop with
 * RST_STREAM NO_ERROR (RFC 9113 §8.1), which the HTTP/2 layer does for any early end.
 */
function respondError(stream: H2Stream, error: GrpcError): void {
  if (stream.headersSent) return;
  stream.sendHeaders(
    encodeHeaderBlock([
      [":status", String(error.httpStatus)],
      ...GRPC_FIELDS,
      ["grpc-status", String(error.code)],
      ["grpc-message", encodeGrpcMessage(error.message)],
    ]),
    true,
  );
}

/** Ends a stream whose headers were sent, with the final status in the trailers. */
function endStream(stream: H2Stream, code: number, message: string): void {
  if (code === Status.OK) {
    stream.sendHeaders(OK_TRAILERS, true);
    return;
  }
  stream.sendHeaders(
    encodeHeaderBlock([
      ["grpc-status", String(code)],
      ["grpc-message", encodeGrpcMessage(message)],
    ]),
    true,
  );
}

