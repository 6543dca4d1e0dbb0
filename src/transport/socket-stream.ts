/**
 * A ByteStream over a Bun socket, plain or TLS. Shared by the TCP and certificate-TLS connectors:
 * connect timeout, source-address bind, write queue under back-pressure, onClose exactly once.
 */
import type { Socket, TCPSocketConnectOptions, TLSOptions } from "bun";
import { transition, type Phase } from "./lifecycle";
import { TransportError, type ByteStream, type ConnectTarget, type StreamHandlers } from "./types";

/** How long a locally closed socket may wait for the peer's FIN before it is torn down. */
const CLOSE_GRACE_MS = 2_000;

export interface SocketStreamOptions {
  target: ConnectTarget;
  handlers: StreamHandlers;
  timeoutMs: number;
  /** TLS options; absent for plain TCP. */
  tls?: TLSOptions;
  /**
   * TLS only: runs when the handshake completes; returns an error to refuse the server
   * (certificate or identity check), or nothing to accept it.
   */
  checkHandshake?(socket: Socket, authorizationError: Error | null): TransportError | undefined;
  /** Turns an error seen before the stream opened (connect error, TLS alert) into a TransportError. */
  connectFailure(error: Error): TransportError;
}

/** Bun.connect binds a source address with `localAddress`; its type definitions omit it. */
type ConnectOptions = TCPSocketConnectOptions<undefined> & { localAddress?: string };

export function formatRemote(target: ConnectTarget): string {
  return target.host.includes(":") ? `[${target.host}]:${target.port}` : `${target.host}:${target.port}`;
}

/** Maps a socket error code to the TransportError kind. */
export function kindOfErrorCode(code: string | undefined): TransportError["kind"] {
  switch (code) {
    case "ECONNREFUSED":
      return "refused";
    case "ETIMEDOUT":
      return "timeout";
    case "ECONNRESET":
    case "EPIPE":
    case "ECONNABORTED":
      return "reset";
    default:
      return "other";
  }
}

export function errorCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === "string" ? code : undefined;
}

export function openSocketStream(options: SocketStreamOptions): Promise<ByteStream> {
  const { target, handlers } = options;
  const remote = formatRemote(target);
  let phase: Phase = "connecting";
  let socket: Socket | undefined;
  /** Chunks not yet accepted by the socket; each is written with its own write() call. */
  const queue: Uint8Array[] = [];
  let pendingError: Error | undefined;

  return new Promise<ByteStream>((resolve, reject) => {
    const fail = (error: TransportError): void => {
      if (phase !== "connecting") return;
      phase = transition(phase, "failed");
      clearTimeout(timer);
      socket?.terminate();
      reject(error);
    };

    const establish = (): void => {
      if (phase !== "connecting") return;
      phase = transition(phase, "established");
      clearTimeout(timer);
      resolve(stream);
    };

    /** The stream ended after it opened: tell the owner once. */
    const finish = (error?: Error): void => {
      if (phase !== "open") return;
      phase = transition(phase, "closed");
      queue.length = 0;
      handlers.onClose(error);
    };

    const flush = (): void => {
      while (socket && queue.length > 0) {
        const chunk = queue[0]!;
        const written = Math.max(0, socket.write(chunk));
        if (written < chunk.length) {
          queue[0] = chunk.subarray(written);
          return;
        }
        queue.shift();
      }
    };

    const stream: ByteStream = {
      remote,
      write(packet) {
        if (phase !== "open" || !socket) return;
        if (queue.length > 0) {
          queue.push(packet.slice());
          return;
        }
        const written = Math.max(0, socket.write(packet));
        // Copy the rest: the caller may reuse its buffer once write() returns.
        if (written < packet.length) queue.push(packet.slice(written));
      },
      close() {
        if (phase !== "open") return;
        const closing = socket;
        finish();
        if (!closing) return;
        closing.end(); // FIN, after close_notify on TLS
        setTimeout(() => closing.terminate(), CLOSE_GRACE_MS).unref();
      },
    };

    const timer = setTimeout(
      () => fail(new TransportError(`connect to ${remote} timed out after ${options.timeoutMs} ms`, "timeout")),
      options.timeoutMs,
    );

    const connectOptions: ConnectOptions = {
      hostname: target.host,
      port: target.port,
      ...(target.sourceAddress === undefined ? {} : { localAddress: target.sourceAddress }),
      ...(options.tls === undefined ? {} : { tls: options.tls }),
      socket: {
        binaryType: "uint8array",
        open(opened) {
          socket = opened;
          if (phase === "closed") return opened.terminate();
          if (!options.tls) establish();
        },
        handshake(shaken, _success, authorizationError) {
          socket = shaken;
          if (phase !== "connecting") return;
          const refusal = options.checkHandshake?.(shaken, authorizationError);
          if (refusal) fail(refusal);
          else establish();
        },
        data(_socket, chunk) {
          if (phase === "open") handlers.onData(chunk);
        },
        drain() {
          if (phase === "open") flush();
        },
        error(_socket, error) {
          // TLS failures and exceptions thrown by our handlers; `close` follows for TLS ones.
          if (phase === "connecting") return fail(options.connectFailure(error));
          pendingError = error;
          socket?.terminate();
        },
        close(_socket, error) {
          const cause = error ?? pendingError;
          if (phase === "connecting") {
            return fail(
              cause
                ? options.connectFailure(cause)
                : new TransportError(`${remote} closed the connection during connect`, "reset"),
            );
          }
          finish(cause ? closeError(remote, cause) : undefined);
        },
        connectError(_socket, error) {
          fail(options.connectFailure(error));
        },
      },
    };

    Bun.connect(connectOptions).then(
      (connected) => {
        socket = connected;
        if (phase === "closed") connected.terminate();
      },
      () => {}, // reported through connectError
    );
  });
}

/** A stream that ended with an error after it opened. */
function closeError(remote: string, cause: Error): TransportError {
  if (cause instanceof TransportError) return cause;
  const code = errorCode(cause);
  const kind = kindOfErrorCode(code);
  const what = kind === "reset" ? "connection reset" : cause.message;
  return new TransportError(`connection to ${remote} failed: ${what}${code ? ` (${code})` : ""}`, kind);
}
