/**
 * Operator-readable TLS failures: certificate verification results, alerts from the server and
 * BoringSSL errors become one sentence naming the server and the reason, and a failed handshake
 * gets its `HandshakeFailureReason` for the metrics. These messages only ever carry certificate
 * facts and error codes, never key material.
 */
import { serverAlertReason, type HandshakeFailureReason } from "./handshake-failure";
import { errorCode, type FailureStage } from "./socket-stream";
import { socketFailureReason } from "./tcp";
import { TransportError } from "./types";

/** Our verdict on the server certificate (Bun's authorizationError codes, as in node:tls). */
const VERIFY_REASONS: Record<string, [sentence: string, reason: HandshakeFailureReason]> = {
  CERT_HAS_EXPIRED: ["server certificate has expired", "certificate_expired"],
  CERT_NOT_YET_VALID: ["server certificate is not yet valid", "certificate_invalid"],
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: ["server certificate is not issued by a trusted CA", "certificate_untrusted"],
  UNABLE_TO_GET_ISSUER_CERT: ["server certificate is not issued by a trusted CA", "certificate_untrusted"],
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: ["server certificate is not issued by a trusted CA", "certificate_untrusted"],
  SELF_SIGNED_CERT_IN_CHAIN: ["server certificate chain ends in an untrusted self-signed CA", "certificate_untrusted"],
  DEPTH_ZERO_SELF_SIGNED_CERT: ["server certificate is self-signed and not trusted", "certificate_untrusted"],
  CERT_UNTRUSTED: ["server certificate is not trusted", "certificate_untrusted"],
  CERT_REVOKED: ["server certificate is revoked", "certificate_invalid"],
  CERT_SIGNATURE_FAILURE: ["server certificate signature does not verify", "certificate_invalid"],
};

/** BoringSSL reasons that mean the server does not speak TLS 1.3 (or TLS at all). */
const VERSION_REASONS: ReadonlySet<string> = new Set(["WRONG_VERSION_NUMBER", "UNSUPPORTED_PROTOCOL"]);

/** What the server's alert (RFC 8446 §6.2) most likely means for us, a TLS 1.3 client. */
const ALERT_HINTS: Record<string, string> = {
  certificate_required: "the server requires a client certificate",
  unknown_ca: "the server does not trust the CA of our client certificate",
  bad_certificate: "the server rejected our client certificate",
  certificate_expired: "the server says our client certificate has expired",
  certificate_revoked: "the server says our client certificate is revoked",
  certificate_unknown: "the server rejected our client certificate",
  unsupported_certificate: "the server does not accept our client certificate type",
  access_denied: "the server denied access",
  protocol_version: "the server does not support TLS 1.3",
  handshake_failure: "the server found no acceptable TLS parameters",
  unrecognized_name: "the server does not know the requested server name (SNI)",
};

/** BoringSSL error reasons ("error:...:SSL routines:OPENSSL_internal:REASON"). */
const LIBRARY_REASONS: Record<string, string> = {
  WRONG_VERSION_NUMBER: "the server did not answer with TLS (a plain TACACS+ port?)",
  UNSUPPORTED_PROTOCOL: "the server does not support TLS 1.3",
  KEY_VALUES_MISMATCH: "the client certificate does not match the client key",
  KEY_TYPE_MISMATCH: "the client certificate does not match the client key",
  NO_START_LINE: "not in PEM format",
  DECODE_ERROR: "PEM content does not decode",
};

export interface TlsPeer {
  /** "host:port". */
  remote: string;
  /** The name verified and sent as SNI, if any. */
  serverName: string | undefined;
}

export function describePeer(peer: TlsPeer): string {
  return peer.serverName && !peer.remote.startsWith(`${peer.serverName}:`) ? `${peer.serverName} (${peer.remote})` : peer.remote;
}

/**
 * The handshake completed with an authorization error: a verification result for the server
 * certificate, or a handshake failure.
 */
export function verificationFailure(peer: TlsPeer, error: Error): TransportError {
  const code = errorCode(error);
  const known: [string, HandshakeFailureReason] | undefined =
    code === "ERR_TLS_CERT_ALTNAME_INVALID" ? [`server certificate does not match the name: ${error.message}`, "hostname_mismatch"] : code ? VERIFY_REASONS[code] : undefined;
  if (!known) return tlsFailure(peer, error, "handshaking", () => new TransportError(error.message, "tls"));
  const [sentence, reason] = known;
  return new TransportError(`TLS with ${describePeer(peer)} failed: ${sentence} (${code})`, "tls", reason);
}

/**
 * A failure seen by the socket: before TCP connected it is a connect error (`connectFailure`),
 * from then on a TLS one; "setup" means Bun refused the TLS options (certificate, key, CAs).
 */
export function tlsFailure(peer: TlsPeer, cause: Error | undefined, stage: FailureStage, connectFailure: () => TransportError): TransportError {
  const who = describePeer(peer);
  if (stage === "connecting") return connectFailure();
  if (stage === "setup") {
    const reason = libraryReason(cause);
    return new TransportError(`TLS with ${who} failed: the client certificate, key or CA certificates are not usable: ${reason}`, "tls", "other");
  }
  // Once open, a failure ends a working stream: no handshake failed.
  const failed = (reason: HandshakeFailureReason): HandshakeFailureReason | undefined => (stage === "open" ? undefined : reason);
  const when = stage === "settling" ? "right after the TLS handshake (did it refuse our client certificate?)" : "during the TLS handshake";
  if (!cause) return new TransportError(`TLS with ${who} failed: the server closed the connection ${when}`, "tls", failed("connection_closed"));
  const alert = alertName(cause.message);
  if (alert) {
    const hint = ALERT_HINTS[alert];
    return new TransportError(`TLS with ${who} failed: server sent alert ${alert}${hint ? `: ${hint}` : ""}`, "tls", failed(serverAlertReason(alert, "certificate")));
  }
  if (isLibraryError(cause)) {
    const reason = VERSION_REASONS.has(libraryCode(cause) ?? "") ? "protocol_version" : "protocol_error";
    return new TransportError(`TLS with ${who} failed: ${libraryReason(cause)}`, "tls", failed(reason));
  }
  const { kind, reason } = socketFailureReason(cause);
  if (stage === "open") return new TransportError(`TLS connection to ${who} failed: ${reason}`, kind);
  return new TransportError(`TLS with ${who} failed: ${reason} ${when}`, "tls", "connection_closed");
}

/** "error:1000045c:SSL routines:OPENSSL_internal:TLSV1_ALERT_CERTIFICATE_REQUIRED" → "certificate_required". */
export function alertName(message: string): string | undefined {
  const match = /(?:SSLV3|TLSV1|TLSV13)_ALERT_([A-Z_]+)/.exec(message);
  return match?.[1]?.toLowerCase();
}

/** BoringSSL reports its errors as "error:<hex>:<library> routines:<function>:<REASON>". */
function isLibraryError(cause: Error): boolean {
  return cause.message.includes(" routines:");
}

/** "WRONG_VERSION_NUMBER" from a BoringSSL error. */
function libraryCode(cause: Error): string | undefined {
  return /routines:[^:]*:([A-Z0-9_]+)/.exec(cause.message)?.[1];
}

function libraryReason(cause: Error | undefined): string {
  if (!cause) return "unknown error";
  const reason = libraryCode(cause);
  if (!reason) return cause.message;
  return LIBRARY_REASONS[reason] ?? reason.toLowerCase().replaceAll("_", " ");
}
