import { expect, test } from "bun:test";
import { codecErrorCode } from "../../test/support/codec-assert";
import { Flags, HEADER_LENGTH, PacketType, VERSION_DEFAULT } from "./constants";
import { CodecError } from "./errors";
import { decodePacket, encodePacket } from "./packet";

const key = new TextEncoder().encode("s3cret-key");
const header = { version: VERSION_DEFAULT, type: PacketType.Authorization, seqNo: 1, flags: 0, sessionId: 42 };
const body = new TextEncoder().encode("not really a body, but the codec does not look");

test("obfuscated round trip: the wire body differs, the decoded body is the original", () => {
  const frame = encodePacket(header, body, key);
  expect(frame.length).toBe(HEADER_LENGTH + body.length);
  expect(frame.subarray(HEADER_LENGTH)).not.toEqual(body);
  const packet = decodePacket(frame, key);
  expect(packet.header).toEqual({ ...header, length: body.length });
  expect(packet.body).toEqual(body);
});

test("unencrypted round trip needs no key and keeps the body in clear", () => {
  const frame = encodePacket({ ...header, flags: Flags.Unencrypted }, body);
  expect(frame.subarray(HEADER_LENGTH)).toEqual(body);
  expect(decodePacket(frame).body).toEqual(body);
  expect(decodePacket(frame, key).body).toEqual(body);
});

test("an obfuscated packet without a key is a missing-key error both ways", () => {
  expect(codecErrorCode(() => encodePacket(header, body))).toBe("missing-key");
  expect(codecErrorCode(() => decodePacket(encodePacket(header, body, key)))).toBe("missing-key");
});

test("the frame must be exactly header plus body", () => {
  const frame = encodePacket(header, body, key);
  expect(codecErrorCode(() => decodePacket(frame.subarray(0, frame.length - 1), key))).toBe("truncated");
  const longer = new Uint8Array(frame.length + 1);
  longer.set(frame);
  expect(codecErrorCode(() => decodePacket(longer, key))).toBe("length-mismatch");
  expect(codecErrorCode(() => decodePacket(frame.subarray(0, 5), key))).toBe("truncated");
});

test("the configured maximum applies before the body is looked at", () => {
  const frame = encodePacket(header, body, key);
  expect(codecErrorCode(() => decodePacket(frame, key, body.length - 1))).toBe("too-large");
});

test("error messages never contain the key", () => {
  for (const fn of [() => decodePacket(new Uint8Array(3), key), () => encodePacket({ ...header, seqNo: 0 }, body, key)]) {
    let error: unknown;
    try {
      fn();
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(CodecError);
    expect(String(error)).not.toContain("s3cret");
  }
});
