/** Reply helpers for the upstream engine and the proxy: status peeking, ERROR replies, terminal states. */
import { encodeAcctReply } from "./acct";
import { encodeAuthenReply } from "./authen";
import { encodeAuthorReply } from "./author";
import { AcctStatus, AuthenStatus, AuthorStatus, PacketType } from "./constants";
import { CodecError } from "./errors";

/** Where the status byte sits in each reply body: accounting puts it after its two 16-bit lengths (§7.2). */
const STATUS_OFFSET: Record<PacketType, number> = {
  [PacketType.Authentication]: 0,
  [PacketType.Authorization]: 0,
  [PacketType.Accounting]: 4,
};

/** The status of a plaintext reply body, without decoding the rest. */
export function replyStatus(type: PacketType, body: Uint8Array): number {
  const offset = STATUS_OFFSET[type];
  if (offset === undefined) throw new CodecError("bad-type", `unknown packet type ${type}`);
  const status = body[offset];
  if (status === undefined) throw new CodecError("truncated", `reply body of ${body.length} bytes has no status byte`);
  return status;
}

/** A well-formed ERROR reply body for `type`, carrying `serverMsg` (never put secrets in it). */
export function errorReplyBody(type: PacketType, serverMsg: string): Uint8Array {
  switch (type) {
    case PacketType.Authentication:
      return encodeAuthenReply({ status: AuthenStatus.Error, flags: 0, serverMsg, data: new Uint8Array(0) });
    case PacketType.Authorization:
      return encodeAuthorReply({ status: AuthorStatus.Error, args: [], serverMsg, data: "" });
    case PacketType.Accounting:
      return encodeAcctReply({ status: AcctStatus.Error, serverMsg, data: "" });
    default:
      throw new CodecError("bad-type", `unknown packet type ${type}`);
  }
}

const TERMINAL_AUTHEN: readonly number[] = [AuthenStatus.Pass, AuthenStatus.Fail, AuthenStatus.Restart, AuthenStatus.Error, AuthenStatus.Follow];

/** True when an authentication REPLY ends the session (no CONTINUE follows). */
export function isTerminalAuthenStatus(status: number): boolean {
  return TERMINAL_AUTHEN.includes(status);
}
