/** Authorization bodies: REQUEST and REPLY (RFC 8907 §6.1-6.2). */
import { encodeArgs, decodeArgs, readArgLengths, type Arg } from "./args";
import { writeUint16 } from "./bytes";
import { AuthenMethod, AuthenService, AuthenType, AuthorStatus } from "./constants";
import { assemble, BodyReader, checkByte, enumValues, fieldBytes, PRIV_LEVELS } from "./fields";

export interface AuthorRequest {
  authenMethod: AuthenMethod;
  privLvl: number;
  authenType: AuthenType;
  authenService: AuthenService;
  user: string;
  port: string;
  remAddr: string;
  args: Arg[];
}

export interface AuthorReply {
  status: AuthorStatus;
  args: Arg[];
  serverMsg: string;
  data: string;
}

export const AUTHEN_METHODS = enumValues(AuthenMethod);
/** Authorization and accounting may carry authen_type 0 (not set) besides the START types. */
export const REQUEST_AUTHEN_TYPES = enumValues(AuthenType, 0);
export const AUTHEN_SERVICES = enumValues(AuthenService);
const STATUSES = enumValues(AuthorStatus);

const REQUEST_FIXED = 8;
const REPLY_FIXED = 6;

/** The request fields shared with accounting: method, priv_lvl, type, service, and the three names. */
export type RequestCommon = Omit<AuthorRequest, "args">;

export function encodeRequestCommon(b: RequestCommon): { fixed: number[]; names: Uint8Array[] } {
  return {
    fixed: [
      checkByte("authen_method", b.authenMethod, AUTHEN_METHODS),
      checkByte("priv_lvl", b.privLvl, PRIV_LEVELS),
      checkByte("authen_type", b.authenType, REQUEST_AUTHEN_TYPES),
      checkByte("authen_service", b.authenService, AUTHEN_SERVICES),
    ],
    names: [fieldBytes("user", b.user, 0xff), fieldBytes("port", b.port, 0xff), fieldBytes("rem_addr", b.remAddr, 0xff)],
  };
}

/** Reads the shared request layout after any leading fixed bytes; returns the names and arguments. */
export function decodeRequestCommon(r: BodyReader): AuthorRequest {
  const fixed = [r.u8(), r.u8(), r.u8(), r.u8()] as const;
  const nameLengths = [r.u8(), r.u8(), r.u8()] as const;
  const argLengths = readArgLengths(r, r.u8());
  r.expectLengths(nameLengths, argLengths);
  return {
    authenMethod: r.check("authen_method", fixed[0], AUTHEN_METHODS),
    privLvl: r.check("priv_lvl", fixed[1], PRIV_LEVELS),
    authenType: r.check("authen_type", fixed[2], REQUEST_AUTHEN_TYPES),
    authenService: r.check("authen_service", fixed[3], AUTHEN_SERVICES),
    user: r.text(nameLengths[0], "user"),
    port: r.text(nameLengths[1], "port"),
    remAddr: r.text(nameLengths[2], "rem_addr"),
    args: decodeArgs(r, argLengths),
  };
}

/** Writes the shared request layout at `offset`: four bytes, three name lengths, arg_cnt, arg lengths. */
export function writeRequestCommon(out: Uint8Array, offset: number, fixed: number[], names: Uint8Array[], args: Uint8Array[]): void {
  for (let i = 0; i < 4; i++) out[offset + i] = fixed[i]!;
  for (let i = 0; i < 3; i++) out[offset + 4 + i] = names[i]!.length;
  out[offset + 7] = args.length;
  for (let i = 0; i < args.length; i++) out[offset + 8 + i] = args[i]!.length;
}

export function encodeAuthorRequest(b: AuthorRequest): Uint8Array {
  const { fixed, names } = encodeRequestCommon(b);
  const args = encodeArgs(b.args);
  const out = assemble(REQUEST_FIXED + args.length, names, args);
  writeRequestCommon(out, 0, fixed, names, args);
  return out;
}

export function decodeAuthorRequest(body: Uint8Array): AuthorRequest {
  return decodeRequestCommon(new BodyReader(body, "authorization REQUEST", REQUEST_FIXED));
}

export function encodeAuthorReply(b: AuthorReply): Uint8Array {
  const status = checkByte("status", b.status, STATUSES);
  const args = encodeArgs(b.args);
  const msg = fieldBytes("server_msg", b.serverMsg, 0xffff);
  const data = fieldBytes("data", b.data, 0xffff);
  const out = assemble(REPLY_FIXED + args.length, [msg, data], args);
  out[0] = status;
  out[1] = args.length;
  writeUint16(out, 2, msg.length);
  writeUint16(out, 4, data.length);
  for (let i = 0; i < args.length; i++) out[REPLY_FIXED + i] = args[i]!.length;
  return out;
}

export function decodeAuthorReply(body: Uint8Array): AuthorReply {
  const r = new BodyReader(body, "authorization REPLY", REPLY_FIXED);
  const status = r.u8();
  const argCount = r.u8();
  const msgLength = r.u16();
  const dataLength = r.u16();
  const argLengths = readArgLengths(r, argCount);
  r.expectLengths([msgLength, dataLength], argLengths);
  // Properties evaluate in order, which is the order of the fields in the body.
  return {
    status: r.check("status", status, STATUSES),
    serverMsg: r.displayText(msgLength),
    data: r.displayText(dataLength),
    args: decodeArgs(r, argLengths),
  };
}
