import { describe, expect, test } from "bun:test";
import { TransportError } from "../types";
import { ALERT, PeerAlert, TlsFailure, alertName, encodeAlert, toTransportError } from "./alerts";

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
});
