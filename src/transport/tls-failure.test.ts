import { describe, expect, test } from "bun:test";
import { alertName, describePeer, tlsFailure, verificationFailure } from "./tls-failure";
import { TransportError } from "./types";

const peer = { remote: "192.0.2.1:300", serverName: "tacacs.example" };
const unreachable = () => new TransportError("connect failed", "refused");

function codeError(message: string, code: string): Error {
  return Object.assign(new Error(message), { code });
}

test("the peer is named by server name and address", () => {
  expect(describePeer(peer)).toBe("tacacs.example (192.0.2.1:300)");
  expect(describePeer({ remote: "tacacs.example:300", serverName: "tacacs.example" })).toBe("tacacs.example:300");
  expect(describePeer({ remote: "192.0.2.1:300", serverName: undefined })).toBe("192.0.2.1:300");
});

test("alert names are read from BoringSSL messages", () => {
  expect(alertName("error:1000045c:SSL routines:OPENSSL_internal:TLSV1_ALERT_CERTIFICATE_REQUIRED")).toBe("certificate_required");
  expect(alertName("error:10000416:SSL routines:OPENSSL_internal:SSLV3_ALERT_CERTIFICATE_UNKNOWN")).toBe("certificate_unknown");
  expect(alertName("ECONNRESET")).toBeUndefined();
});

test("before TCP connects, the connect error stands", () => {
  expect(tlsFailure(peer, codeError("Failed to connect", "ECONNREFUSED"), "connecting", unreachable).kind).toBe("refused");
});

test("alerts during and after the handshake are TLS failures with a hint", () => {
  const alert = new Error("error:10000418:SSL routines:OPENSSL_internal:TLSV1_ALERT_UNKNOWN_CA");
  for (const stage of ["handshaking", "settling", "open"] as const) {
    const error = tlsFailure(peer, alert, stage, unreachable);
    expect(error.kind).toBe("tls");
    expect(error.message).toBe(
      "TLS with tacacs.example (192.0.2.1:300) failed: server sent alert unknown_ca: the server does not trust the CA of our client certificate",
    );
  }
  const unknown = tlsFailure(peer, new Error("error:1:SSL routines:OPENSSL_internal:TLSV1_ALERT_DECODE_ERROR"), "open", unreachable);
  expect(unknown.message).toEndWith("server sent alert decode_error");
});

test("a reset once open is a reset; during the handshake it is a TLS failure", () => {
  const reset = codeError("ECONNRESET: connection reset by peer, read", "ECONNRESET");
  const open = tlsFailure(peer, reset, "open", unreachable);
  expect([open.kind, open.message]).toEqual(["reset", "TLS connection to tacacs.example (192.0.2.1:300) failed: connection reset (ECONNRESET)"]);
  const handshake = tlsFailure(peer, reset, "handshaking", unreachable);
  expect([handshake.kind, handshake.message]).toEqual([
    "tls",
    "TLS with tacacs.example (192.0.2.1:300) failed: connection reset (ECONNRESET) during the TLS handshake",
  ]);
});

test("library errors and unusable settings get readable reasons", () => {
  const wrongVersion = new Error("error:1000010b:SSL routines:OPENSSL_internal:WRONG_VERSION_NUMBER");
  expect(tlsFailure(peer, wrongVersion, "handshaking", unreachable).message).toEndWith(
    "failed: the server did not answer with TLS (a plain TACACS+ port?)",
  );
  const setup = tlsFailure(peer, new Error("Invalid CA"), "setup", unreachable);
  expect([setup.kind, setup.message]).toEqual([
    "tls",
    "TLS with tacacs.example (192.0.2.1:300) failed: the client certificate, key or CA certificates are not usable: Invalid CA",
  ]);
});

test("verification results name the certificate problem and its code", () => {
  const expired = verificationFailure(peer, codeError("certificate has expired", "CERT_HAS_EXPIRED"));
  expect(expired.message).toBe("TLS with tacacs.example (192.0.2.1:300) failed: server certificate has expired (CERT_HAS_EXPIRED)");
  const other = verificationFailure(peer, new Error("error:100000df:SSL routines:OPENSSL_internal:UNEXPECTED_MESSAGE"));
  expect([other.kind, other.message]).toEqual(["tls", "TLS with tacacs.example (192.0.2.1:300) failed: unexpected message"]);
});

describe("the reason of a failed handshake, for the metrics", () => {
  const handshake = (cause: Error | undefined, stage: "handshaking" | "settling" | "open" | "setup" = "handshaking") => tlsFailure(peer, cause, stage, unreachable).handshakeFailure;
  const library = (reason: string) => new Error(`error:1000010b:SSL routines:OPENSSL_internal:${reason}`);

  test("our verdict on the server certificate", () => {
    const verdict = (code: string) => verificationFailure(peer, codeError("verification failed", code)).handshakeFailure;
    expect(verdict("UNABLE_TO_VERIFY_LEAF_SIGNATURE")).toBe("certificate_untrusted");
    expect(verdict("SELF_SIGNED_CERT_IN_CHAIN")).toBe("certificate_untrusted");
    expect(verdict("DEPTH_ZERO_SELF_SIGNED_CERT")).toBe("certificate_untrusted");
    expect(verdict("CERT_HAS_EXPIRED")).toBe("certificate_expired");
    expect(verdict("CERT_NOT_YET_VALID")).toBe("certificate_invalid");
    expect(verdict("CERT_REVOKED")).toBe("certificate_invalid");
    expect(verdict("ERR_TLS_CERT_ALTNAME_INVALID")).toBe("hostname_mismatch");
    expect(verificationFailure(peer, library("UNEXPECTED_MESSAGE")).handshakeFailure).toBe("protocol_error");
  });

  test("the server's alerts, the library's errors, a close or reset during the handshake", () => {
    expect(handshake(library("TLSV13_ALERT_CERTIFICATE_REQUIRED"), "settling")).toBe("client_certificate_rejected");
    expect(handshake(library("TLSV1_ALERT_UNKNOWN_CA"), "settling")).toBe("client_certificate_rejected");
    expect(handshake(library("TLSV1_ALERT_PROTOCOL_VERSION"))).toBe("protocol_version");
    expect(handshake(library("SSLV3_ALERT_HANDSHAKE_FAILURE"))).toBe("alert_received");
    expect(handshake(library("WRONG_VERSION_NUMBER"))).toBe("protocol_version");
    expect(handshake(library("UNSUPPORTED_PROTOCOL"))).toBe("protocol_version");
    expect(handshake(library("DECODE_ERROR"))).toBe("protocol_error");
    expect(handshake(undefined)).toBe("connection_closed");
    expect(handshake(undefined, "settling")).toBe("connection_closed");
    expect(handshake(codeError("ECONNRESET: connection reset by peer, read", "ECONNRESET"))).toBe("connection_closed");
    expect(handshake(new Error("Invalid CA"), "setup")).toBe("other");
  });

  test("no handshake failed before TCP connected, nor once the stream was open", () => {
    expect(tlsFailure(peer, codeError("Failed to connect", "ECONNREFUSED"), "connecting", unreachable).handshakeFailure).toBeUndefined();
    expect(handshake(library("TLSV1_ALERT_UNKNOWN_CA"), "open")).toBeUndefined();
    expect(handshake(undefined, "open")).toBeUndefined();
    expect(handshake(codeError("ECONNRESET: connection reset by peer, read", "ECONNRESET"), "open")).toBeUndefined();
  });
});
