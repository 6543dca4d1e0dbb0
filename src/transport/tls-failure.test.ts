import { expect, test } from "bun:test";
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
