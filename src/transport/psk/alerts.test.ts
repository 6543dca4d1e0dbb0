import { describe, expect, test } from "bun:test";
import { TransportError } from "../types";
import { ALERT, PeerAlert, TlsFailure, alertName, encodeAlert, handshakeFailure, toTransportError } from "./alerts";

describe("alerts", () => {
  test("readable names with codes, and hints for the usual PSK failures", () => {
    expect(alertName(ALERT.illegal_parameter)).toBe("illegal_parameter (47)");
    expect(alertName(200)).toBe("unknown_alert (200)");
    expect(new PeerAlert(47).message).toBe("server sent alert illegal_parameter (47): wrong PSK?");
    expect(new PeerAlert(40).message).toMatch(/^server sent alert handshake_failure \(40\): unknown PSK identity/);
    expect(new PeerAlert(80).message).toBe("server sent alert internal_error (80)");
    expect(new TlsFailure(ALERT.decrypt_error, "server Finished does not verify").message).toBe(
      "server Finished does not verify (we sent alert decrypt_error (51))",
    );
  });

  test("close_notify and user_canceled are warnings, everything else is fatal (§6)", () => {
    expect([...encodeAlert(ALERT.close_notify)]).toEqual([1, 0]);
    expect([...encodeAlert(ALERT.user_canceled)]).toEqual([1, 90]);
    expect([...encodeAlert(ALERT.bad_record_mac)]).toEqual([2, 20]);
  });

  test("toTransportError: kind tls with context; a TransportError passes unchanged", () => {
    const error = toTransportError("TLS PSK handshake with 127.0.0.1:449", new PeerAlert(47));
    expect(error).toBeInstanceOf(TransportError);
    expect(error.kind).toBe("tls");
    expect(error.message).toBe("TLS PSK handshake with 127.0.0.1:449 failed: server sent alert illegal_parameter (47): wrong PSK?");
    const reset = new TransportError("connection reset", "reset");
    expect(toTransportError("x", reset)).toBe(reset);
  });

  test("handshakeFailure: the server's alert, our alert, or a close, as the reason for the metrics; the message stays", () => {
    const reasonOf = (error: unknown) => handshakeFailure("TLS PSK handshake with 127.0.0.1:449", error).handshakeFailure;
    expect(reasonOf(new PeerAlert(ALERT.illegal_parameter))).toBe("psk_bad_binder");
    expect(reasonOf(new PeerAlert(ALERT.decrypt_error))).toBe("psk_bad_binder");
    expect(reasonOf(new PeerAlert(ALERT.handshake_failure))).toBe("psk_unknown_identity");
    expect(reasonOf(new PeerAlert(ALERT.unknown_psk_identity))).toBe("psk_unknown_identity");
    expect(reasonOf(new PeerAlert(ALERT.missing_extension))).toBe("alert_received");
    expect(reasonOf(new PeerAlert(200))).toBe("alert_received");
    expect(reasonOf(new TlsFailure(ALERT.handshake_failure, "server did not accept the PSK and began a certificate-based handshake"))).toBe("psk_unknown_identity");
    expect(reasonOf(new TlsFailure(ALERT.protocol_version, "server did not select TLS 1.3"))).toBe("protocol_version");
    expect(reasonOf(new TlsFailure(ALERT.decrypt_error, "server Finished does not verify"))).toBe("protocol_error");
    expect(reasonOf(new Error("server closed the connection during the handshake"))).toBe("connection_closed");
    const reset = handshakeFailure("x", new TransportError("connection to 127.0.0.1:449 failed: connection reset (ECONNRESET)", "reset"));
    expect([reset.message, reset.kind, reset.handshakeFailure]).toEqual(["connection to 127.0.0.1:449 failed: connection reset (ECONNRESET)", "reset", "connection_closed"]);
    const alert = handshakeFailure("TLS PSK handshake with 127.0.0.1:449", new PeerAlert(47));
    expect([alert.kind, alert.message]).toEqual(["tls", "TLS PSK handshake with 127.0.0.1:449 failed: server sent alert illegal_parameter (47): wrong PSK?"]);
  });
});
