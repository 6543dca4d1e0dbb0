/** Accounting bodies: REQUEST and REPLY (RFC 8907 §7.1-7.2). */
import { encodeArgs } from "./args";
import { decodeRequestCommon, encodeRequestCommon, writeRequestCommon, type AuthorRequest } from "./author";
import { writeUint16 } from "./bytes";
import { AcctFlags, AcctStatus } from "./constants";
import { CodecError } from "./errors";
import { assemble, BodyReader, ByteSet, checkByte, enumValues, fieldBytes } from "./fields";

export interface AcctRequest extends AuthorRequest {
  flags: number;
}

export interface AcctReply {
  status: AcctStatus;
  serverMsg: string;
  data: string;
}

/** §7.1: START, STOP, WATCHDOG, and WATCHDOG|START (an update carrying start data). Anything else, e.g. START|STOP (0x06), is invalid. */
const VALID_FLAGS = new ByteSet([AcctFlags.Start, AcctFlags.Stop, AcctFlags.Watchdog, AcctFlags.Watchdog | AcctFlags.Start]);
const STATUSES = enumValues(AcctStatus);

const REQUEST_FIXED = 9;
const REPLY_FIXED = 5;

function checkAcctFlags(flags: number): number {
  if (!VALID_FLAGS.has(flags)) {
    throw new CodecError("bad-flags", `accounting flags 0x${flags.toString(16).padStart(2, "0")} are not a valid combination (START, STOP, WATCHDOG or WATCHDOG|START)`);
  }
  return flags;
}

export function encodeAcctRequest(b: AcctRequest): Uint8Array {
  const flags = checkAcctFlags(b.flags);
  const { fixed, names } = encodeRequestCommon(b);
  const args = encodeArgs(b.args);
  const out = assemble(REQUEST_FIXED + args.length, names, args);
  out[0] = flags;
  writeRequestCommon(out, 1, fixed, names, args);
  return out;
}

export function decodeAcctRequest(body: Uint8Array): AcctRequest {
  const r = new BodyReader(body, "accounting REQUEST", REQUEST_FIXED);
  const flags = r.u8();
  const request = decodeRequestCommon(r) as AcctRequest;
  request.flags = checkAcctFlags(flags);
  return request;
}

export function encodeAcctReply(b: AcctReply): Uint8Array {
  const msg = fieldBytes("server_msg", b.serverMsg, 0xffff);
  const data = fieldBytes("data", b.data, 0xffff);
  const status = checkByte("status", b.status, STATUSES);
  const out = assemble(REPLY_FIXED, [msg, data]);
  writeUint16(out, 0, msg.length);
  writeUint16(out, 2, data.length);
  out[4] = status;
  return out;
}

export function decodeAcctReply(body: Uint8Array): AcctReply {
  const r = new BodyReader(body, "accounting REPLY", REPLY_FIXED);
  const msgLength = r.u16();
  const dataLength = r.u16();
  const status = r.u8();
  r.expectLengths([msgLength, dataLength]);
  return { status: r.check("status", status, STATUSES), serverMsg: r.displayText(msgLength), data: r.displayText(dataLength) };
}
