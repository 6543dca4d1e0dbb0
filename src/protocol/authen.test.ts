import { describe, expect, test } from "bun:test";
import { codecErrorCode } from "../../test/support/codec-assert";
import {
  decodeAuthenContinue,
  decodeAuthenReply,
  decodeAuthenStart,
  decodeChallengeResponse,
  encodeAuthenContinue,
  encodeAuthenReply,
  encodeAuthenStart,
  encodeChallengeResponse,
  type AuthenStart,
} from "./authen";
import { AuthenAction, AuthenService, AuthenStatus, AuthenType } from "./constants";
import type { CodecErrorCode } from "./errors";

const text = (s: string) => new TextEncoder().encode(s);
const filled = (n: number, v: number) => new Uint8Array(n).fill(v);

const papStart: AuthenStart = {
  action: AuthenAction.Login,
  privLvl: 15,
  authenType: AuthenType.Pap,
  service: AuthenService.Login,
  user: "alice",
  port: "tty0",
  remAddr: "192.0.2.1",
  data: text("alicepw"),
};

describe("START", () => {
  test("byte layout of §5.1", () => {
    const body = encodeAuthenStart(papStart);
    expect([...body.subarray(0, 8)]).toEqual([1, 15, 2, 1, 5, 4, 9, 7]);
    expect(new TextDecoder().decode(body.subarray(8))).toBe("alicetty0192.0.2.1alicepw");
  });

  const starts: [string, AuthenStart][] = [
    ["PAP login", papStart],
    ["ASCII login, no user yet", { ...papStart, authenType: AuthenType.Ascii, user: "", data: new Uint8Array(0) }],
    ["ASCII change password", { ...papStart, action: AuthenAction.ChangePass, authenType: AuthenType.Ascii, data: new Uint8Array(0) }],
    ["CHAP login", { ...papStart, authenType: AuthenType.Chap, service: AuthenService.Ppp, data: encodeChallengeResponse(AuthenType.Chap, { pppId: 7, challenge: filled(8, 1), response: filled(16, 2) }) }],
    ["MS-CHAP v1 login", { ...papStart, authenType: AuthenType.MsChap, data: encodeChallengeResponse(AuthenType.MsChap, { pppId: 1, challenge: filled(8, 3), response: filled(49, 4) }) }],
    ["MS-CHAP v2 login", { ...papStart, authenType: AuthenType.MsChapV2, data: encodeChallengeResponse(AuthenType.MsChapV2, { pppId: 2, challenge: filled(16, 5), response: filled(49, 6) }) }],
    ["sendauth", { ...papStart, action: AuthenAction.SendAuth, service: AuthenService.Ppp }],
    ["UTF-8 names and 255-byte fields", { ...papStart, user: "zoë-ß", port: "p".repeat(255), remAddr: "", data: filled(255, 9) }],
  ];
  for (const [name, start] of starts) {
    test(`round trip: ${name}`, () => expect(decodeAuthenStart(encodeAuthenStart(start))).toEqual(start));
  }

  test("the decoded data is a view of the body: wiping the body wipes the password", () => {
    const body = encodeAuthenStart(papStart);
    const decoded = decodeAuthenStart(body);
    body.fill(0);
    expect(decoded.data).toEqual(new Uint8Array(papStart.data.length));
  });
});

test("REPLY round trip and layout (status, flags, two 16-bit lengths)", () => {
  const reply = { status: AuthenStatus.GetPass, flags: 1, serverMsg: "Password: ", data: text("x") };
  const body = encodeAuthenReply(reply);
  expect([...body.subarray(0, 6)]).toEqual([5, 1, 0, 10, 0, 1]);
  expect(decodeAuthenReply(body)).toEqual(reply);
  const long = { status: AuthenStatus.Pass, flags: 0, serverMsg: "m".repeat(65535), data: filled(300, 1) };
  expect(decodeAuthenReply(encodeAuthenReply(long))).toEqual(long);
});

test("every authentication status round-trips", () => {
  for (const status of [1, 2, 3, 4, 5, 6, 7, 0x21]) {
    expect(decodeAuthenReply(encodeAuthenReply({ status, flags: 0, serverMsg: "", data: new Uint8Array(0) })).status).toBe(status);
  }
});

test("CONTINUE round trip and layout (two 16-bit lengths, then flags)", () => {
  const cont = { flags: 1, userMsg: text("secret"), data: text("d") };
  const body = encodeAuthenContinue(cont);
  expect([...body.subarray(0, 5)]).toEqual([0, 6, 0, 1, 1]);
  expect(decodeAuthenContinue(body)).toEqual(cont);
});

test("challenge/response data splits at the type's fixed response length", () => {
  const data = Uint8Array.of(9, ...filled(5, 1), ...filled(16, 2));
  expect(decodeChallengeResponse(AuthenType.Chap, data)).toEqual({ pppId: 9, challenge: filled(5, 1), response: filled(16, 2) });
});

describe("malformed authentication bodies", () => {
  const start = encodeAuthenStart(papStart);
  const with_ = (body: Uint8Array, index: number, value: number) => {
    const out = body.slice();
    out[index] = value;
    return out;
  };
  const cases: [string, () => unknown, CodecErrorCode][] = [
    ["START shorter than its fixed part", () => decodeAuthenStart(start.subarray(0, 7)), "length-mismatch"],
    ["START one byte short", () => decodeAuthenStart(start.subarray(0, start.length - 1)), "length-mismatch"],
    ["START one byte long", () => decodeAuthenStart(Uint8Array.of(...start, 0)), "length-mismatch"],
    ["START user_len too big", () => decodeAuthenStart(with_(start, 4, 6)), "length-mismatch"],
    ["START action 3", () => decodeAuthenStart(with_(start, 0, 3)), "bad-field"],
    ["START priv_lvl 16", () => decodeAuthenStart(with_(start, 1, 16)), "bad-field"],
    ["START authen_type 7", () => decodeAuthenStart(with_(start, 2, 7)), "bad-field"],
    ["START authen_type 0", () => decodeAuthenStart(with_(start, 2, 0)), "bad-field"],
    ["START service 4", () => decodeAuthenStart(with_(start, 3, 4)), "bad-field"],
    ["START user not UTF-8", () => decodeAuthenStart(with_(start, 8, 0xff)), "bad-field"],
    ["START CHAP data too short", () => decodeAuthenStart(encodeAuthenStart({ ...papStart, authenType: AuthenType.Pap, data: filled(17, 0) }).map((b, i) => (i === 2 ? AuthenType.Chap : b))), "bad-field"],
    ["encode CHAP response of 15 bytes", () => encodeChallengeResponse(AuthenType.Chap, { pppId: 1, challenge: filled(8, 0), response: filled(15, 0) }), "bad-field"],
    ["encode MS-CHAP v2 challenge of 8 bytes", () => encodeChallengeResponse(AuthenType.MsChapV2, { pppId: 1, challenge: filled(8, 0), response: filled(49, 0) }), "bad-field"],
    ["encode MS-CHAP v1 empty challenge", () => encodeChallengeResponse(AuthenType.MsChap, { pppId: 1, challenge: new Uint8Array(0), response: filled(49, 0) }), "bad-field"],
    ["encode PPP id 256", () => encodeChallengeResponse(AuthenType.Chap, { pppId: 256, challenge: filled(1, 0), response: filled(16, 0) }), "bad-field"],
    ["encode START with CHAP data of wrong length", () => encodeAuthenStart({ ...papStart, authenType: AuthenType.Chap, data: filled(16, 0) }), "bad-field"],
    ["encode START user of 256 bytes", () => encodeAuthenStart({ ...papStart, user: "u".repeat(256) }), "bad-field"],
    ["encode START data of 256 bytes", () => encodeAuthenStart({ ...papStart, data: filled(256, 0) }), "bad-field"],
    ["encode START priv_lvl -1", () => encodeAuthenStart({ ...papStart, privLvl: -1 }), "bad-field"],
    ["encode START action 9", () => encodeAuthenStart({ ...papStart, action: 9 as AuthenAction }), "bad-field"],
    ["REPLY of 5 bytes", () => decodeAuthenReply(new Uint8Array(5)), "length-mismatch"],
    ["REPLY server_msg_len past the end", () => decodeAuthenReply(Uint8Array.of(1, 0, 0, 3, 0, 0, 65, 65)), "length-mismatch"],
    ["REPLY status 8", () => decodeAuthenReply(Uint8Array.of(8, 0, 0, 0, 0, 0)), "bad-field"],
    ["REPLY status 0", () => decodeAuthenReply(Uint8Array.of(0, 0, 0, 0, 0, 0)), "bad-field"],
    ["REPLY flags 2", () => decodeAuthenReply(Uint8Array.of(1, 2, 0, 0, 0, 0)), "bad-field"],
    ["encode REPLY server_msg of 65536 bytes", () => encodeAuthenReply({ status: 1, flags: 0, serverMsg: "m".repeat(65536), data: new Uint8Array(0) }), "bad-field"],
    ["encode REPLY flags 2", () => encodeAuthenReply({ status: 1, flags: 2, serverMsg: "", data: new Uint8Array(0) }), "bad-field"],
    ["encode REPLY status 9", () => encodeAuthenReply({ status: 9 as AuthenStatus, flags: 0, serverMsg: "", data: new Uint8Array(0) }), "bad-field"],
    ["CONTINUE of 4 bytes", () => decodeAuthenContinue(new Uint8Array(4)), "length-mismatch"],
    ["CONTINUE data_len past the end", () => decodeAuthenContinue(Uint8Array.of(0, 0, 0, 1, 0)), "length-mismatch"],
    ["CONTINUE flags 0x80", () => decodeAuthenContinue(Uint8Array.of(0, 0, 0, 0, 0x80)), "bad-field"],
    ["encode CONTINUE user_msg of 65536 bytes", () => encodeAuthenContinue({ flags: 0, userMsg: filled(65536, 0), data: new Uint8Array(0) }), "bad-field"],
  ];
  for (const [name, fn, code] of cases) test(name, () => expect(codecErrorCode(fn)).toBe(code));
});

test("server text that is not UTF-8 (a Latin-1 prompt) is shown with replacement characters, not refused", () => {
  const latin1 = Uint8Array.of(3, 1, 0, 8, 0, 0, ...new TextEncoder().encode("Passw"), 0xf6, 0x72, 0x74);
  expect(decodeAuthenReply(latin1).serverMsg).toBe("Passw\ufffdrt");
});

test("length errors hint at a wrong shared secret", () => {
  expect(() => decodeAuthenReply(Uint8Array.of(1, 0, 0, 9, 0, 0))).toThrow(/wrong shared secret\?/);
});
