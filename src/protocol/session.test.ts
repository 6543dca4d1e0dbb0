import { expect, test } from "bun:test";
import { codecErrorCode } from "../../test/support/codec-assert";
import { AuthenAction, AuthenType, VERSION_DEFAULT, VERSION_ONE } from "./constants";
import { isClientSeqNo, minorVersionFor, newSessionId, nextSeqNo } from "./session";

test("session ids are random 32-bit values, never 0", () => {
  const ids = Array.from({ length: 1000 }, newSessionId);
  for (const id of ids) {
    expect(Number.isInteger(id) && id > 0 && id <= 0xffffffff).toBe(true);
  }
  expect(new Set(ids).size).toBe(ids.length);
  // Random ids use the high bits too (a Math.random()*small or counter bug would not).
  expect(ids.some((id) => id > 0x80000000)).toBe(true);
});

test("client packets are odd, server packets even", () => {
  expect(isClientSeqNo(1)).toBe(true);
  expect(isClientSeqNo(2)).toBe(false);
  expect(isClientSeqNo(255)).toBe(true);
});

test("seq_no advances by one and never wraps past 255", () => {
  expect(nextSeqNo(1)).toBe(2);
  expect(nextSeqNo(254)).toBe(255);
  expect(codecErrorCode(() => nextSeqNo(255))).toBe("bad-seq");
  expect(codecErrorCode(() => nextSeqNo(0))).toBe("bad-seq");
  expect(codecErrorCode(() => nextSeqNo(1.5))).toBe("bad-seq");
});

test("minor version 1 for PAP, CHAP and MS-CHAP logins only (§5.4.1)", () => {
  const cases: [AuthenAction, AuthenType, number][] = [
    [AuthenAction.Login, AuthenType.Ascii, VERSION_DEFAULT],
    [AuthenAction.Login, AuthenType.Pap, VERSION_ONE],
    [AuthenAction.Login, AuthenType.Chap, VERSION_ONE],
    [AuthenAction.Login, AuthenType.MsChap, VERSION_ONE],
    [AuthenAction.Login, AuthenType.MsChapV2, VERSION_ONE],
    [AuthenAction.ChangePass, AuthenType.Ascii, VERSION_DEFAULT],
    [AuthenAction.SendAuth, AuthenType.Pap, VERSION_DEFAULT],
  ];
  for (const [action, type, version] of cases) expect(minorVersionFor(action, type)).toBe(version);
});
