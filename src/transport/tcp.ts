/**
 * Plain TCP (RFC 8907): Bun.connect; a source address is bound through Bun.connect's
 * `localAddress` option (supported by Bun 1.4 although missing from its type definitions).
 */
import { errorCode, formatRemote, kindOfErrorCode, openSocketStream, type FailureStage } from "./socket-stream";
import { TransportError, type ConnectTarget, type Connector } from "./types";

const REASONS_BY_KIND: Partial<Record<TransportError["kind"], string>> = {
  refused: "connection refused",
  timeout: "timed out",
  reset: "connection reset",
};

const REASONS_BY_CODE: Record<string, string> = {
  EADDRNOTAVAIL: "source address not available on this host",
  EADDRINUSE: "source address in use",
  ENETUNREACH: "network unreachable",
  EHOSTUNREACH: "host unreachable",
  ENOTFOUND: "host name not found",
  EAI_AGAIN: "host name lookup failed temporarily",
};

/** An operator-readable reason for a socket error, e.g. "connection refused (ECONNREFUSED)". */
export function socketFailureReason(error: Error): { kind: TransportError["kind"]; reason: string } {
  const code = errorCode(error);
  const kind = kindOfErrorCode(code);
  const reason = (code && REASONS_BY_CODE[code]) ?? REASONS_BY_KIND[kind] ?? error.message;
  return { kind, reason: code ? `${reason} (${code})` : reason };
}

/**
 * Describes a TCP failure, e.g. "connect to 10.0.0.1:49 failed: connection refused (ECONNREFUSED)"
 * or, once open, "connection to 10.0.0.1:49 failed: connection reset (ECONNRESET)".
 */
export function tcpFailure(target: ConnectTarget, cause: Error | undefined, stage: FailureStage): TransportError {
  const remote = formatRemote(target);
  if (!cause) return new TransportError(`${remote} closed the connection during connect`, "reset");
  const { kind, reason } = socketFailureReason(cause);
  if (stage === "open") return new TransportError(`connection to ${remote} failed: ${reason}`, kind);
  const bind = target.sourceAddress === undefined ? "" : ` from ${target.sourceAddress}`;
  return new TransportError(`connect to ${remote}${bind} failed: ${reason}`, kind);
}

export const tcpConnector: Connector = {
  connect(target, handlers, timeoutMs) {
    return openSocketStream({
      target,
      handlers,
      timeoutMs,
      describeFailure: (cause, stage) => tcpFailure(target, cause, stage),
    });
  },
};
