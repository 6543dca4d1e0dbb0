import { expect, test } from "bun:test";
import { codecErrorCode } from "../../test/support/codec-assert";
import { decodeAcctReply, encodeAcctReply } from "./acct";
import { decodeAuthenReply, encodeAuthenReply } from "./authen";
import { decodeAuthorReply, encodeAuthorReply } from "./author";
import { AcctStatus, AuthenStatus, AuthorStatus, PacketType } from "./constants";
import { errorReplyBody, isTerminalAuthenStatus, replyStatus } from "./replies";

test("replyStatus finds the status byte of every reply type", () => {
  const authen = encodeAuthenReply({ status: AuthenStatus.GetUser, flags: 0, serverMsg: "who?", data: new Uint8Array(0) });
  const author = encodeAuthorReply({ status: AuthorStatus.PassRepl, args: [], serverMsg: "x", data: "" });
  const acct = encodeAcctReply({ status: AcctStatus.Follow, serverMsg: "elsewhere", data: "" });
  expect(replyStatus(PacketType.Authentication, authen)).toBe(AuthenStatus.GetUser);
  expect(replyStatus(PacketType.Authorization, author)).toBe(AuthorStatus.PassRepl);
  expect(replyStatus(PacketType.Accounting, acct)).toBe(AcctStatus.Follow);
});

test("replyStatus on a body too short to hold a status is truncated", () => {
  expect(codecErrorCode(() => replyStatus(PacketType.Accounting, new Uint8Array(4)))).toBe("truncated");
  expect(codecErrorCode(() => replyStatus(PacketType.Authentication, new Uint8Array(0)))).toBe("truncated");
  expect(codecErrorCode(() => replyStatus(7 as PacketType, new Uint8Array(6)))).toBe("bad-type");
});

test("errorReplyBody builds a well-formed ERROR reply of each type", () => {
  expect(decodeAuthenReply(errorReplyBody(PacketType.Authentication, "no upstream"))).toEqual({
    status: AuthenStatus.Error,
    flags: 0,
    serverMsg: "no upstream",
    data: new Uint8Array(0),
  });
  expect(decodeAuthorReply(errorReplyBody(PacketType.Authorization, "no upstream"))).toEqual({ status: AuthorStatus.Error, args: [], serverMsg: "no upstream", data: "" });
  expect(decodeAcctReply(errorReplyBody(PacketType.Accounting, "no upstream"))).toEqual({ status: AcctStatus.Error, serverMsg: "no upstream", data: "" });
  expect(codecErrorCode(() => errorReplyBody(0 as PacketType, "x"))).toBe("bad-type");
});

test("terminal authentication statuses end the session; GETDATA/GETUSER/GETPASS do not", () => {
  const terminal = [1, 2, 6, 7, 0x21];
  for (let status = 0; status < 256; status++) expect(isTerminalAuthenStatus(status)).toBe(terminal.includes(status));
});
