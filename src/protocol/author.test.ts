import { describe, expect, test } from "bun:test";
import { codecErrorCode } from "../../test/support/codec-assert";
import { decodeAuthorReply, decodeAuthorRequest, encodeAuthorReply, encodeAuthorRequest, type AuthorReply, type AuthorRequest } from "./author";
import { AuthenMethod, AuthenService, AuthenType, AuthorStatus } from "./constants";
import type { CodecErrorCode } from "./errors";

const request: AuthorRequest = {
  authenMethod: AuthenMethod.TacacsPlus,
  privLvl: 1,
  authenType: AuthenType.Ascii,
  authenService: AuthenService.Login,
  user: "alice",
  port: "0",
  remAddr: "127.0.0.1",
  args: [
    { name: "service", value: "shell", mandatory: true },
    { name: "cmd", value: "show", mandatory: true },
    { name: "cmd-arg", value: "version", mandatory: false },
  ],
};

const reply: AuthorReply = {
  status: AuthorStatus.PassAdd,
  args: [{ name: "priv-lvl", value: "15", mandatory: true }],
  serverMsg: "ok",
  data: "admin log",
};

test("REQUEST layout of §6.1: fixed bytes, name lengths, arg_cnt, arg lengths, then the fields", () => {
  const body = encodeAuthorRequest(request);
  expect([...body.subarray(0, 11)]).toEqual([6, 1, 1, 1, 5, 1, 9, 3, 13, 8, 15]);
  expect(new TextDecoder().decode(body.subarray(11))).toBe("alice0127.0.0.1service=shellcmd=showcmd-arg*version");
});

test("non-ASCII names and arguments are UTF-8 on the wire and decode back", () => {
  const international = { ...request, user: "jürgen", args: [{ name: "mötd", value: "grüße=€", mandatory: false }] };
  const body = encodeAuthorRequest(international);
  expect(new TextDecoder().decode(body.subarray(9))).toBe("jürgen0127.0.0.1mötd*grüße=€");
  expect(body[4]).toBe(7);
  expect(decodeAuthorRequest(body)).toEqual(international);
});

test("REPLY layout of §6.2: status, arg_cnt, two 16-bit lengths, arg lengths, msg, data, args", () => {
  const body = encodeAuthorReply(reply);
  expect([...body.subarray(0, 7)]).toEqual([1, 1, 0, 2, 0, 9, 11]);
  expect(new TextDecoder().decode(body.subarray(7))).toBe("okadmin logpriv-lvl=15");
});

describe("round trips", () => {
  const requests: [string, AuthorRequest][] = [
    ["command authorization", request],
    ["no args, authen_type not set, every method", { ...request, args: [], authenType: 0 as AuthenType, authenMethod: AuthenMethod.NotSet }],
    ["255 args of 255 bytes", { ...request, args: Array.from({ length: 255 }, (_, i) => ({ name: `a${i}`, value: "v".repeat(255 - `a${i}=`.length), mandatory: i % 2 === 0 })) }],
  ];
  for (const [name, r] of requests) test(`REQUEST: ${name}`, () => expect(decodeAuthorRequest(encodeAuthorRequest(r))).toEqual(r));
  for (const method of [0, 1, 2, 3, 4, 5, 6, 8, 0x10, 0x11, 0x20]) {
    test(`REQUEST authen_method 0x${method.toString(16)}`, () => {
      expect(decodeAuthorRequest(encodeAuthorRequest({ ...request, authenMethod: method })).authenMethod).toBe(method);
    });
  }
  for (const status of [1, 2, 0x10, 0x11, 0x21]) {
    test(`REPLY status 0x${status.toString(16)}`, () => {
      const r = { ...reply, status };
      expect(decodeAuthorReply(encodeAuthorReply(r))).toEqual(r);
    });
  }
  test("REPLY with no args and empty strings", () => {
    const r = { status: AuthorStatus.Fail, args: [], serverMsg: "", data: "" };
    expect(decodeAuthorReply(encodeAuthorReply(r))).toEqual(r);
  });
});

describe("malformed authorization bodies", () => {
  const body = encodeAuthorRequest(request);
  const replyBody = encodeAuthorReply(reply);
  const with_ = (b: Uint8Array, index: number, value: number) => b.map((x, i) => (i === index ? value : x));
  const cases: [string, () => unknown, CodecErrorCode][] = [
    ["REQUEST of 7 bytes", () => decodeAuthorRequest(body.subarray(0, 7)), "length-mismatch"],
    ["REQUEST arg_cnt past the end", () => decodeAuthorRequest(Uint8Array.of(6, 1, 1, 1, 0, 0, 0, 200, 5)), "length-mismatch"],
    ["REQUEST arg length too big", () => decodeAuthorRequest(with_(body, 8, 14)), "length-mismatch"],
    ["REQUEST trailing byte", () => decodeAuthorRequest(Uint8Array.of(...body, 0)), "length-mismatch"],
    ["REQUEST authen_method 7", () => decodeAuthorRequest(with_(body, 0, 7)), "bad-field"],
    ["REQUEST priv_lvl 200", () => decodeAuthorRequest(with_(body, 1, 200)), "bad-field"],
    ["REQUEST authen_type 9", () => decodeAuthorRequest(with_(body, 2, 9)), "bad-field"],
    ["REQUEST authen_service 10", () => decodeAuthorRequest(with_(body, 3, 10)), "bad-field"],
    ["REQUEST arg without separator", () => decodeAuthorRequest(with_(body, 11 + 5 + 1 + 9 + 7, "_".charCodeAt(0))), "bad-field"],
    ["REQUEST arg not UTF-8", () => decodeAuthorRequest(with_(body, 11 + 5 + 1 + 9, 0xfe)), "bad-field"],
    ["encode 256 args", () => encodeAuthorRequest({ ...request, args: Array.from({ length: 256 }, () => ({ name: "a", value: "", mandatory: true })) }), "bad-field"],
    ["encode arg of 256 bytes", () => encodeAuthorRequest({ ...request, args: [{ name: "a", value: "v".repeat(254), mandatory: true }] }), "bad-field"],
    ["encode arg name with '='", () => encodeAuthorRequest({ ...request, args: [{ name: "a=b", value: "", mandatory: true }] }), "bad-field"],
    ["encode rem_addr of 256 bytes", () => encodeAuthorRequest({ ...request, remAddr: "r".repeat(256) }), "bad-field"],
    ["encode authen_method 7", () => encodeAuthorRequest({ ...request, authenMethod: 7 as AuthenMethod }), "bad-field"],
    ["REPLY of 5 bytes", () => decodeAuthorReply(replyBody.subarray(0, 5)), "length-mismatch"],
    ["REPLY data_len too big", () => decodeAuthorReply(with_(replyBody, 5, 10)), "length-mismatch"],
    ["REPLY arg_cnt past the end", () => decodeAuthorReply(Uint8Array.of(1, 3, 0, 0, 0, 0, 1)), "length-mismatch"],
    ["REPLY status 3", () => decodeAuthorReply(with_(replyBody, 0, 3)), "bad-field"],
    ["REPLY arg not UTF-8", () => decodeAuthorReply(with_(replyBody, replyBody.length - 1, 0xff)), "bad-field"],
    ["encode REPLY status 0", () => encodeAuthorReply({ ...reply, status: 0 as AuthorStatus }), "bad-field"],
    ["encode REPLY data of 65536 bytes", () => encodeAuthorReply({ ...reply, data: "d".repeat(65536) }), "bad-field"],
  ];
  for (const [name, fn, code] of cases) test(name, () => expect(codecErrorCode(fn)).toBe(code));
});
