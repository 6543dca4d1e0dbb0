/**
 * Plain TCP (RFC 8907): Bun.connect; a source address is bound through Bun.connect's
 * `localAddress` option (supported by Bun 1.4 although missing from its type definitions).
 */
import { errorCode, formatRemote, kindOfErrorCode, openSocketStream } from "./socket-stream";
import { TransportError, type ConnectTarget, type Connector } from "./types";

/** Describes a failed TCP connect for operators, e.g. "connect to 10.0.0.1:49 failed: connection refused (ECONNREFUSED)". */
export function tcpConnectFailure(target: ConnectTarget, error: Error): TransportError {
  const code = errorCode(error);
  const kind = kindOfErrorCode(code);
  const reason = (code && REASONS_BY_CODE[code]) ?? REASONS_BY_KIND[kind] ?? error.message;
  const bind = target.sourceAddress === undefined ? "" : ` from ${target.sourceAddress}`;
  return new TransportError(`connect to ${formatRemote(target)}${bind} failed: ${reason}${code ? ` (${code})` : ""}`, kind);
}

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

export const tcpConnector: Connector = {
  connect(target, handlers, timeoutMs) {
    return openSocketStream({
      target,
      handlers,
      timeoutMs,
      connectFailure: (error) => tcpConnectFailure(target, error),
    });
  },
};
