import { expect, test } from "bun:test";
import { HANDSHAKE_FAILURE_REASONS, serverAlertReason } from "./handshake-failure";

test("the reasons are a fixed set of valid, distinct label values", () => {
  expect(new Set(HANDSHAKE_FAILURE_REASONS).size).toBe(HANDSHAKE_FAILURE_REASONS.length);
  for (const reason of HANDSHAKE_FAILURE_REASONS) expect(reason).toMatch(/^[a-z][a-z0-9_]*$/);
});

test("a certificate server's alerts about our client certificate, its version alert, anything else", () => {
  for (const alert of ["certificate_required", "unknown_ca", "bad_certificate", "certificate_expired", "certificate_unknown"]) {
    expect(serverAlertReason(alert, "certificate")).toBe("client_certificate_rejected");
  }
  expect(serverAlertReason("protocol_version", "certificate")).toBe("protocol_version");
  expect(serverAlertReason("handshake_failure", "certificate")).toBe("alert_received");
  expect(serverAlertReason("illegal_parameter", "certificate")).toBe("alert_received");
});

test("a PSK server's alerts: a binder that does not verify, an unknown identity (OpenSSL: handshake_failure)", () => {
  const expected: Record<string, string> = {
    illegal_parameter: "psk_bad_binder",
    decrypt_error: "psk_bad_binder",
    unknown_psk_identity: "psk_unknown_identity",
    handshake_failure: "psk_unknown_identity",
    protocol_version: "protocol_version",
    missing_extension: "alert_received",
    unknown_ca: "alert_received",
  };
  for (const [alert, reason] of Object.entries(expected)) expect([alert, serverAlertReason(alert, "psk")]).toEqual([alert, reason]);
});
