import { describe, expect, test } from "bun:test";
import { HRR_RANDOM } from "../../../test/support/psk-fake-server";
import { ALERT, TlsFailure } from "./alerts";
import { EXTENSION } from "./messages";
import { parseServerHello } from "./server-hello";
import { ByteWriter } from "./wire";

function body(options: { random?: Uint8Array; extensions?: Uint8Array | null; version?: number; compression?: number }): Uint8Array {
  const writer = new ByteWriter()
    .u16(options.version ?? 0x0303)
    .bytes(options.random ?? new Uint8Array(32).fill(3))
    .vector(1, new Uint8Array(32).fill(2))
    .u16(0x1301)
    .u8(options.compression ?? 0);
  if (options.extensions !== null) writer.vector(2, options.extensions ?? supportedVersions());
  return writer.finish();
}

const supportedVersions = (): Uint8Array => new ByteWriter().u16(EXTENSION.supported_versions).vector(2, Uint8Array.of(3, 4)).finish();

function failure(data: Uint8Array): TlsFailure {
  try {
    parseServerHello(data);
  } catch (error) {
    if (error instanceof TlsFailure) return error;
    throw error;
  }
  throw new Error("expected a TlsFailure");
}

describe("parseServerHello", () => {
  test("a TLS 1.3 ServerHello", () => {
    const psk = new ByteWriter().u16(EXTENSION.pre_shared_key).vector(2, Uint8Array.of(0, 0)).finish();
    const hello = parseServerHello(body({ extensions: new ByteWriter().bytes(supportedVersions()).bytes(psk).finish() }));
    expect(hello).toMatchObject({ kind: "server_hello", cipherSuite: 0x1301, selectedIdentity: 0 });
  });

  test("the HelloRetryRequest random marks a retry", () => {
    const share = new ByteWriter().u16(EXTENSION.key_share).vector(2, Uint8Array.of(0, 23)).finish();
    const retry = parseServerHello(body({ random: HRR_RANDOM, extensions: new ByteWriter().bytes(supportedVersions()).bytes(share).finish() }));
    expect(retry).toMatchObject({ kind: "hello_retry_request", selectedGroup: 23 });
  });

  test("TLS 1.2 (no supported_versions) is protocol_version", () => {
    expect(failure(body({ extensions: null })).alert).toBe(ALERT.protocol_version);
    expect(failure(body({ extensions: new Uint8Array(0) })).alert).toBe(ALERT.protocol_version);
  });

  test("supported_versions naming another version is illegal_parameter (§4.2.1)", () => {
    for (const version of [0x0303, 0x0305, 0x7f1c]) {
      const extension = new ByteWriter().u16(EXTENSION.supported_versions).vector(2, Uint8Array.of(version >> 8, version & 0xff)).finish();
      expect(failure(body({ extensions: extension })).alert).toBe(ALERT.illegal_parameter);
    }
  });

  test("bad legacy fields, repeated extensions and truncation are refused", () => {
    expect(failure(body({ compression: 1 })).alert).toBe(ALERT.illegal_parameter);
    expect(failure(body({ version: 0x0304 })).alert).toBe(ALERT.illegal_parameter);
    expect(failure(body({ extensions: new ByteWriter().bytes(supportedVersions()).bytes(supportedVersions()).finish() })).alert).toBe(
      ALERT.illegal_parameter,
    );
    const whole = body({});
    expect(failure(whole.subarray(0, whole.length - 1)).alert).toBe(ALERT.decode_error);
    expect(failure(new Uint8Array([...whole, 0])).alert).toBe(ALERT.decode_error);
  });

  test("an empty HRR cookie is a decode_error", () => {
    const cookie = new ByteWriter().u16(EXTENSION.cookie).vector(2, Uint8Array.of(0, 0)).finish();
    expect(failure(body({ random: HRR_RANDOM, extensions: new ByteWriter().bytes(supportedVersions()).bytes(cookie).finish() })).alert).toBe(
      ALERT.decode_error,
    );
  });
});
