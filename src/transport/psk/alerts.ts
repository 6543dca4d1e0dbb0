/**
 * TLS alerts (RFC 8446 §6): readable names, the hints operators need for the usual PSK
 * failures, and the two error shapes of the handshake: a failure we detected (and report to the
 * peer with an alert) and an alert the peer sent us.
 */
import { serverAlertReason, type HandshakeFailureReason } from "../handshake-failure";
import { TransportError } from "../types";
import { errorMessage } from "../../common/error-message";

export const ALERT = {
  close_notify: 0,
  unexpected_message: 10,
  bad_record_mac: 20,
  record_overflow: 22,
  handshake_failure: 40,
  bad_certificate: 42,
  unsupported_certificate: 43,
  certificate_revoked: 44,
  certificate_expired: 45,
  certificate_unknown: 46,
  illegal_parameter: 47,
  unknown_ca: 48,
  access_denied: 49,
  decode_error: 50,
  decrypt_error: 51,
  protocol_version: 70,
  insufficient_security: 71,
  internal_error: 80,
  inappropriate_fallback: 86,
  user_canceled: 90,
  missing_extension: 109,
  unsupported_extension: 110,
  unrecognized_name: 112,
  bad_certificate_status_response: 113,
  unknown_psk_identity: 115,
  certificate_required: 116,
  no_application_protocol: 120,
} as const;

const NAMES = new Map<number, string>(Object.entries(ALERT).map(([name, code]) => [code, name]));

/** What a server's alert usually means for a PSK client (RFC 8446 §4.2.11, observed on OpenSSL). */
const HINTS: Partial<Record<number, string>> = {
  [ALERT.illegal_parameter]: "wrong PSK?",
  [ALERT.decrypt_error]: "wrong PSK?",
  [ALERT.handshake_failure]: "unknown PSK identity, or no common cipher suite or key exchange mode?",
  [ALERT.unknown_psk_identity]: "unknown PSK identity?",
  [ALERT.missing_extension]: "server requires psk-dhe (try --psk-key-exchange psk-dhe)?",
  [ALERT.protocol_version]: "server does not speak TLS 1.3?",
};

/** "illegal_parameter (47)". */
export function alertName(code: number): string {
  return `${NAMES.get(code) ?? "unknown_alert"} (${code})`;
}

/** A protocol failure we detected; the connection sends `alert` to the peer and closes. */
export class TlsFailure extends Error {
  constructor(
    readonly alert: number,
    readonly reason: string,
  ) {
    super(`${reason} (we sent alert ${alertName(alert)})`);
    this.name = "TlsFailure";
  }
}

/** The peer sent a fatal alert. */
export class PeerAlert extends Error {
  constructor(readonly alert: number) {
    const hint = HINTS[alert];
    super(`server sent alert ${alertName(alert)}${hint ? `: ${hint}` : ""}`);
    this.name = "PeerAlert";
  }
}

export function encodeAlert(alert: number): Uint8Array {
  // RFC 8446 §6: every alert but close_notify and user_canceled is fatal (level 2).
  const level = alert === ALERT.close_notify || alert === ALERT.user_canceled ? 1 : 2;
  return Uint8Array.of(level, alert);
}

/**
 * Translates a handshake or record failure into the transport's error for operators, e.g.
 * "TLS PSK handshake with 10.0.0.1:449 failed: server sent alert illegal_parameter (47): wrong PSK?".
 */
export function toTransportError(context: string, error: unknown): TransportError {
  if (error instanceof TransportError) return error;
  const detail = errorMessage(error);
  return new TransportError(`${context} failed: ${detail}`, "tls");
}

/**
 * What our own alert says about a failed handshake: we send handshake_failure only when the server
 * began a certificate handshake, i.e. did not take our PSK identity (RFC 8446 §4.2.11).
 */
const OUR_ALERT_REASONS: Partial<Record<number, HandshakeFailureReason>> = {
  [ALERT.protocol_version]: "protocol_version",
  [ALERT.handshake_failure]: "psk_unknown_identity",
};

function handshakeFailureReason(error: unknown): HandshakeFailureReason {
  if (error instanceof PeerAlert) return serverAlertReason(NAMES.get(error.alert) ?? "unknown_alert", "psk");
  if (error instanceof TlsFailure) return OUR_ALERT_REASONS[error.alert] ?? "protocol_error";
  // The transport closed under the handshake: a FIN or a reset.
  return "connection_closed";
}

/** A failure that ended the handshake once TCP had connected, with its reason for the metrics. */
export function handshakeFailure(context: string, error: unknown): TransportError {
  const { message, kind } = toTransportError(context, error);
  return new TransportError(message, kind, handshakeFailureReason(error));
}
