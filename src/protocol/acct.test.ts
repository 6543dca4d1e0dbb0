import { describe, expect, test } from "bun:test";
import { codecErrorCode } from "../../test/support/codec-assert";
import { decodeAcctReply, decodeAcctRequest, encodeAcctReply, encodeAcctRequest, type AcctRequest } from "./acct";
import { AcctFlags, AcctStatus, AuthenMethod, AuthenService, AuthenType } from "./constants";
import type { CodecErrorCode } from "./errors";

const request: AcctRequest = {
  flags: AcctFlags.Start,
  authenMethod: AuthenMethod.TacacsPlus,
  privLvl: 0,
  authenType: AuthenType.Pap,
  authenService: AuthenService.Ppp,
  user: "alice",
  port: "unknown",
  remAddr: "unknown",
  args: [
    { name: "task_id", value: "2149", mandatory: true },
    { name: "service", value: "ppp", mandatory: true },
  ],
};

test("REQUEST layout of §7.1: flags first, then the authorization layout", () => {
  const body = encodeAcctRequest(request);
  expect([...body.subarray(0, 11)]).toEqual([2, 6, 0, 2, 3, 5, 7, 7, 2, 12, 11]);
  expect(new TextDecoder().decode(body.subarray(11))).toBe("aliceunknownunknowntask_id=2149service=ppp");
});

test("REPLY layout of §7.2: the status comes after the two 16-bit lengths", () => {
  const body = encodeAcctReply({ status: AcctStatus.Success, serverMsg: "hi", data: "d" });
  expect([...body]).toEqual([0, 2, 0, 1, 1, 104, 105, 100]);
});

describe("round trips", () => {
  for (const flags of [0x02, 0x04, 0x08, 0x0a]) {
    test(`REQUEST flags 0x${flags.toString(16)}`, () => {
      const r = { ...request, flags };
      expect(decodeAcctRequest(encodeAcctRequest(r))).toEqual(r);
    });
  }
  for (const status of [1, 2, 0x21]) {
    test(`REPLY status 0x${status.toString(16)}`, () => {
      const r = { status, serverMsg: "message", data: "data" };
      expect(decodeAcctReply(encodeAcctReply(r))).toEqual(r);
    });
  }
});

describe("malformed accounting bodies", () => {
  const body = encodeAcctRequest(request);
  const with_ = (b: Uint8Array, index: number, value: number) => b.map((x, i) => (i === index ? value : x));
  const cases: [string, () => unknown, CodecErrorCode][] = [
    ...[0x00, 0x01, 0x06, 0x0c, 0x0e, 0x10, 0xff].flatMap((flags): [string, () => unknown, CodecErrorCode][] => [
      [`encode flags 0x${flags.toString(16)}`, () => encodeAcctRequest({ ...request, flags }), "bad-flags"],
      [`decode flags 0x${flags.toString(16)}`, () => decodeAcctRequest(with_(body, 0, flags)), "bad-flags"],
    ]),
    ["REQUEST of 8 bytes", () => decodeAcctRequest(body.subarray(0, 8)), "length-mismatch"],
    ["REQUEST missing last byte", () => decodeAcctRequest(body.subarray(0, body.length - 1)), "length-mismatch"],
    ["REQUEST arg_cnt past the end", () => decodeAcctRequest(Uint8Array.of(2, 6, 0, 2, 3, 0, 0, 0, 9)), "length-mismatch"],
    ["REQUEST priv_lvl 16", () => decodeAcctRequest(with_(body, 2, 16)), "bad-field"],
    ["REPLY of 4 bytes", () => decodeAcctReply(Uint8Array.of(0, 0, 0, 0)), "length-mismatch"],
    ["REPLY server_msg_len past the end", () => decodeAcctReply(Uint8Array.of(0, 1, 0, 0, 1)), "length-mismatch"],
    ["REPLY status 3", () => decodeAcctReply(Uint8Array.of(0, 0, 0, 0, 3)), "bad-field"],
    ["encode REPLY status 0x20", () => encodeAcctReply({ status: 0x20 as AcctStatus, serverMsg: "", data: "" }), "bad-field"],
  ];
  for (const [name, fn, code] of cases) test(name, () => expect(codecErrorCode(fn)).toBe(code));
});

test("reply text that is not UTF-8 is decoded leniently", () => {
  expect(decodeAcctReply(Uint8Array.of(0, 1, 0, 1, 1, 0xe9, 0xff))).toEqual({ status: AcctStatus.Success, serverMsg: "\ufffd", data: "\ufffd" });
});

test("a wrong flags value on decode is reported only after the lengths check out", () => {
  // Lengths broken and flags invalid: the length mismatch (the likelier wrong-secret symptom) wins.
  const broken = encodeAcctRequest(request).map((b, i) => (i === 0 ? 0x06 : i === 5 ? 6 : b));
  expect(codecErrorCode(() => decodeAcctRequest(broken))).toBe("length-mismatch");
});
