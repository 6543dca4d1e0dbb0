/**
 * Why a TLS handshake failed, as one of a fixed set of reasons: metric label values, so the set
 * is closed (bounded cardinality) and says what an operator has to fix. The connectors attach a
 * reason to the TransportError of a failed handshake (`tls-failure.ts` for certificate TLS,
 * `psk/alerts.ts` for TLS-PSK); failures of TCP itself (refused, unreachable, a connect
 * timeout) and failures after the stream opened carry none.
 */
export const HANDSHAKE_FAILURE_REASONS = [
  /** The server certificate does not chain to a trust anchor (our verdict). */
  "certificate_untrusted",
  /** The server certificate has expired (our verdict). */
  "certificate_expired",
  /** The server certificate is not yet valid, revoked, or its signature does not verify (our verdict). */
  "certificate_invalid",
  /** The server certificate does not name the server (--tls-server-name or the address). */
  "hostname_mismatch",
  /** The server refused our client certificate, or asked for one we did not send (its alert). */
  "client_certificate_rejected",
  /** TLS-PSK: the server does not know our identity (unknown_psk_identity; handshake_failure from OpenSSL). */
  "psk_unknown_identity",
  /** TLS-PSK: the binder did not verify, i.e. a wrong key (illegal_parameter or decrypt_error, RFC 8446 §4.2.11). */
  "psk_bad_binder",
  /** The server does not speak TLS 1.3, or not TLS at all. */
  "protocol_version",
  /** TCP connected, the handshake did not finish within the connect timeout. */
  "handshake_timeout",
  /** Any other fatal alert from the server. */
  "alert_received",
  /** The server broke the protocol (we sent the alert), or the TLS library refused its messages. */
  "protocol_error",
  /** The server closed or reset the connection during the handshake, without an alert. */
  "connection_closed",
  /** Anything else (e.g. TLS options the library refused). */
  "other",
] as const;

export type HandshakeFailureReason = (typeof HANDSHAKE_FAILURE_REASONS)[number];

/** Alerts about our client certificate (RFC 8446 §6.2), as a TLS 1.3 client receives them. */
const CLIENT_CERTIFICATE_ALERTS: ReadonlySet<string> = new Set([
  "certificate_required",
  "unknown_ca",
  "bad_certificate",
  "certificate_expired",
  "certificate_revoked",
  "certificate_unknown",
  "unsupported_certificate",
]);

/** What a PSK server's alert means (RFC 8446 §4.2.11; OpenSSL's choices in shared/notes). */
const PSK_ALERTS: Readonly<Record<string, HandshakeFailureReason>> = {
  illegal_parameter: "psk_bad_binder",
  decrypt_error: "psk_bad_binder",
  unknown_psk_identity: "psk_unknown_identity",
  handshake_failure: "psk_unknown_identity",
};

/** The reason for a fatal alert the server sent during the handshake, by alert name ("unknown_ca"). */
export function serverAlertReason(alert: string, mode: "certificate" | "psk"): HandshakeFailureReason {
  if (alert === "protocol_version") return "protocol_version";
  if (mode === "psk") return PSK_ALERTS[alert] ?? "alert_received";
  return CLIENT_CERTIFICATE_ALERTS.has(alert) ? "client_certificate_rejected" : "alert_received";
}
