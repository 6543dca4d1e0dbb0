/** Authentication bodies: START, REPLY, CONTINUE (RFC 8907 §5.1-5.3) and the START data layouts (§5.4.2). */
import { writeUint16 } from "./bytes";
import { AuthenAction, AuthenService, AuthenStatus, AuthenType } from "./constants";
import { CodecError } from "./errors";
import { assemble, BodyReader, ByteSet, checkByte, enumValues, fieldBytes, PRIV_LEVELS } from "./fields";

export interface AuthenStart {
  action: AuthenAction;
  privLvl: number;
  authenType: AuthenType;
  service: AuthenService;
  user: string;
  port: string;
  remAddr: string;
  data: Uint8Array;
}

export interface AuthenReply {
  status: AuthenStatus;
  flags: number;
  serverMsg: string;
  data: Uint8Array;
}

export interface AuthenContinue {
  flags: number;
  userMsg: Uint8Array;
  data: Uint8Array;
}

const ACTIONS = enumValues(AuthenAction);
const TYPES = enumValues(AuthenType);
const SERVICES = enumValues(AuthenService);
const STATUSES = enumValues(AuthenStatus);
/** REPLY and CONTINUE each define one flag bit (NOECHO, ABORT). */
const ONE_FLAG = new ByteSet([0, 1]);

const START_FIXED = 8;
const REPLY_FIXED = 6;
const CONTINUE_FIXED = 5;

export function encodeAuthenStart(b: AuthenStart): Uint8Array {
  checkStartData(b.action, b.authenType, b.data);
  const fields = [
    fieldBytes("user", b.user, 0xff),
    fieldBytes("port", b.port, 0xff),
    fieldBytes("rem_addr", b.remAddr, 0xff),
    fieldBytes("data", b.data, 0xff),
  ];
  const fixed = [
    checkByte("action", b.action, ACTIONS),
    checkByte("priv_lvl", b.privLvl, PRIV_LEVELS),
    checkByte("authen_type", b.authenType, TYPES),
    checkByte("authen_service", b.service, SERVICES),
  ];
  const out = assemble(START_FIXED, fields);
  for (let i = 0; i < 4; i++) {
    out[i] = fixed[i]!;
    out[4 + i] = fields[i]!.length;
  }
  return out;
}

export function decodeAuthenStart(body: Uint8Array): AuthenStart {
  const r = new BodyReader(body, "authentication START", START_FIXED);
  const fixed = [r.u8(), r.u8(), r.u8(), r.u8()] as const;
  const lengths = [r.u8(), r.u8(), r.u8(), r.u8()] as const;
  r.expectLengths(lengths);
  const start: AuthenStart = {
    action: r.check("action", fixed[0], ACTIONS),
    privLvl: r.check("priv_lvl", fixed[1], PRIV_LEVELS),
    authenType: r.check("authen_type", fixed[2], TYPES),
    service: r.check("authen_service", fixed[3], SERVICES),
    user: r.text(lengths[0], "user"),
    port: r.text(lengths[1], "port"),
    remAddr: r.text(lengths[2], "rem_addr"),
    data: r.bytes(lengths[3]),
  };
  checkStartData(start.action, start.authenType, start.data);
  return start;
}

export function encodeAuthenReply(b: AuthenReply): Uint8Array {
  const fields = [fieldBytes("server_msg", b.serverMsg, 0xffff), fieldBytes("data", b.data, 0xffff)];
  const status = checkByte("status", b.status, STATUSES);
  const flags = checkByte("flags", b.flags, ONE_FLAG);
  const out = assemble(REPLY_FIXED, fields);
  out[0] = status;
  out[1] = flags;
  writeUint16(out, 2, fields[0]!.length);
  writeUint16(out, 4, fields[1]!.length);
  return out;
}

export function decodeAuthenReply(body: Uint8Array): AuthenReply {
  const r = new BodyReader(body, "authentication REPLY", REPLY_FIXED);
  const status = r.u8();
  const flags = r.u8();
  const msgLength = r.u16();
  const dataLength = r.u16();
  r.expectLengths([msgLength, dataLength]);
  return {
    status: r.check("status", status, STATUSES),
    flags: r.check("flags", flags, ONE_FLAG),
    serverMsg: r.displayText(msgLength),
    data: r.bytes(dataLength),
  };
}

export function encodeAuthenContinue(b: AuthenContinue): Uint8Array {
  const fields = [fieldBytes("user_msg", b.userMsg, 0xffff), fieldBytes("data", b.data, 0xffff)];
  const flags = checkByte("flags", b.flags, ONE_FLAG);
  const out = assemble(CONTINUE_FIXED, fields);
  writeUint16(out, 0, fields[0]!.length);
  writeUint16(out, 2, fields[1]!.length);
  out[4] = flags;
  return out;
}

export function decodeAuthenContinue(body: Uint8Array): AuthenContinue {
  const r = new BodyReader(body, "authentication CONTINUE", CONTINUE_FIXED);
  const msgLength = r.u16();
  const dataLength = r.u16();
  const flags = r.u8();
  r.expectLengths([msgLength, dataLength]);
  return { flags: r.check("flags", flags, ONE_FLAG), userMsg: r.bytes(msgLength), data: r.bytes(dataLength) };
}

/**
 * CHAP and MS-CHAP START data (§5.4.2.3-5.4.2.5): the PPP id (one byte), the challenge, then the
 * response, whose length is fixed by the type: 16 bytes for CHAP, 49 for MS-CHAP v1 and v2.
 * PAP data is the password itself; ASCII login carries no data.
 */
export interface ChallengeResponse {
  pppId: number;
  challenge: Uint8Array;
  response: Uint8Array;
}

export type ChallengeType = AuthenType.Chap | AuthenType.MsChap | AuthenType.MsChapV2;

const RESPONSE_LENGTH: Record<ChallengeType, number> = {
  [AuthenType.Chap]: 16,
  [AuthenType.MsChap]: 49,
  [AuthenType.MsChapV2]: 49,
};

/** MS-CHAP v2 challenges are always 16 bytes (RFC 2759); CHAP and MS-CHAP v1 need at least one. */
function checkChallengeLength(type: ChallengeType, length: number): void {
  const ok = type === AuthenType.MsChapV2 ? length === 16 : length >= 1;
  if (!ok) throw new CodecError("bad-field", `${AuthenType[type]} challenge of ${length} bytes is invalid`);
}

function isChallengeType(type: AuthenType): type is ChallengeType {
  return type in RESPONSE_LENGTH;
}

export function encodeChallengeResponse(type: ChallengeType, d: ChallengeResponse): Uint8Array {
  const responseLength = RESPONSE_LENGTH[type];
  checkByte("PPP id", d.pppId);
  checkChallengeLength(type, d.challenge.length);
  if (d.response.length !== responseLength) {
    throw new CodecError("bad-field", `${AuthenType[type]} response must be ${responseLength} bytes, got ${d.response.length}`);
  }
  const out = new Uint8Array(1 + d.challenge.length + responseLength);
  out[0] = d.pppId;
  out.set(d.challenge, 1);
  out.set(d.response, 1 + d.challenge.length);
  return out;
}

export function decodeChallengeResponse(type: ChallengeType, data: Uint8Array): ChallengeResponse {
  const responseLength = RESPONSE_LENGTH[type];
  const challengeLength = data.length - 1 - responseLength;
  checkChallengeLength(type, challengeLength);
  return {
    pppId: data[0]!,
    challenge: data.subarray(1, 1 + challengeLength),
    response: data.subarray(1 + challengeLength),
  };
}

/** Validates the START data layout of the logins that define one. */
function checkStartData(action: AuthenAction, type: AuthenType, data: Uint8Array): void {
  if (action === AuthenAction.Login && isChallengeType(type)) decodeChallengeResponse(type, data);
}
