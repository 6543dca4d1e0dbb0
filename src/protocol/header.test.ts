import { describe, expect, test } from "bun:test";
import { Flags, MAX_BODY_LENGTH_CAP, PacketType, VERSION_DEFAULT, VERSION_ONE } from "./constants";
import { codecErrorCode } from "../../test/support/codec-assert";
import type { CodecErrorCode } from "./errors";
import { checkMaxBodyLength, decodeHeader, encodeHeader, type PacketHeader } from "./header";

const header: PacketHeader = { version: VERSION_ONE, type: PacketType.Accounting, seqNo: 7, flags: Flags.SingleConnect, sessionId: 0xdeadbeef, length: 300 };

function bytes(...values: number[]): Uint8Array {
  return Uint8Array.from(values);
}

/** A header with byte `index` replaced. */
function patched(index: number, value: number): Uint8Array {
  const out = encodeHeader(header);
  out[index] = value;
  return out;
}

test("encodes the RFC 8907 §4.1 layout and decodes it back", () => {
  const encoded = encodeHeader(header);
  expect([...encoded]).toEqual([0xc1, 3, 7, 4, 0xde, 0xad, 0xbe, 0xef, 0, 0, 1, 44]);
  expect(decodeHeader(encoded)).toEqual(header);
});

test("session id 0 is accepted (tactester sends it)", () => {
  expect(decodeHeader(encodeHeader({ ...header, sessionId: 0 })).sessionId).toBe(0);
});

test("decodes from a view at an offset inside a larger buffer", () => {
  const big = new Uint8Array(40);
  big.set(encodeHeader(header), 17);
  expect(decodeHeader(big.subarray(17))).toEqual(header);
});

describe("malformed headers", () => {
  const cases: [string, () => unknown, CodecErrorCode][] = [
    ["11 bytes", () => decodeHeader(bytes(0xc0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0)), "truncated"],
    ["empty", () => decodeHeader(new Uint8Array(0)), "truncated"],
    ["major version 0xb", () => decodeHeader(patched(0, 0xb0)), "bad-version"],
    ["minor version 2", () => decodeHeader(patched(0, 0xc2)), "bad-version"],
    ["type 0", () => decodeHeader(patched(1, 0)), "bad-type"],
    ["type 4", () => decodeHeader(patched(1, 4)), "bad-type"],
    ["seq_no 0", () => decodeHeader(patched(2, 0)), "bad-seq"],
    ["unknown flag 0x02", () => decodeHeader(patched(3, 0x02)), "bad-flags"],
    ["unknown flag 0x80", () => decodeHeader(patched(3, 0x85)), "bad-flags"],
    ["length over the default 65536", () => decodeHeader(encodeHeader({ ...header, length: 65537 })), "too-large"],
    ["length over a configured maximum", () => decodeHeader(encodeHeader({ ...header, length: 1001 }), 1000), "too-large"],
    ["length 0xffffffff", () => decodeHeader(patched(8, 0xff).map((b, i) => (i >= 8 ? 0xff : b)), MAX_BODY_LENGTH_CAP), "too-large"],
    ["maximum above the hard cap", () => decodeHeader(encodeHeader(header), MAX_BODY_LENGTH_CAP + 1), "too-large"],
    ["negative maximum", () => checkMaxBodyLength(-1), "too-large"],
    ["encode version 0x10", () => encodeHeader({ ...header, version: 0x10 }), "bad-version"],
    ["encode version 300", () => encodeHeader({ ...header, version: 300 }), "bad-version"],
    ["encode type 9", () => encodeHeader({ ...header, type: 9 as PacketType }), "bad-type"],
    ["encode seq_no 256", () => encodeHeader({ ...header, seqNo: 256 }), "bad-seq"],
    ["encode seq_no 1.5", () => encodeHeader({ ...header, seqNo: 1.5 }), "bad-seq"],
    ["encode flags 0x100", () => encodeHeader({ ...header, flags: 0x100 }), "bad-flags"],
    ["encode session id 2^32", () => encodeHeader({ ...header, sessionId: 2 ** 32 }), "bad-field"],
    ["encode negative session id", () => encodeHeader({ ...header, sessionId: -1 }), "bad-field"],
    ["encode length over the cap", () => encodeHeader({ ...header, length: MAX_BODY_LENGTH_CAP + 1 }), "too-large"],
  ];
  for (const [name, fn, code] of cases) test(name, () => expect(codecErrorCode(fn)).toBe(code));
});

test("the maximum may be raised up to the hard cap", () => {
  const h = { ...header, length: MAX_BODY_LENGTH_CAP };
  expect(decodeHeader(encodeHeader(h), MAX_BODY_LENGTH_CAP)).toEqual(h);
  expect(decodeHeader(encodeHeader({ ...header, version: VERSION_DEFAULT, length: 65536 })).length).toBe(65536);
});
