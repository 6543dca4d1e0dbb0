/**
 * The RFC 8907 wire codec: pure functions from bytes to values and back. No I/O, no timers.
 * Every malformed input throws a CodecError with a stable code.
 */
export * from "./constants";
export { CodecError, WRONG_SECRET_HINT, type CodecErrorCode } from "./errors";
export { encodeHeader, decodeHeader, checkMaxBodyLength, type PacketHeader } from "./header";
export { obfuscate } from "./obfuscation";
export { encodePacket, decodePacket, type Packet } from "./packet";
export { FrameReader } from "./frame-reader";
export { formatArg, parseArg, type Arg } from "./args";
export {
  encodeAuthenStart,
  decodeAuthenStart,
  encodeAuthenReply,
  decodeAuthenReply,
  encodeAuthenContinue,
  decodeAuthenContinue,
  encodeChallengeResponse,
  decodeChallengeResponse,
  type AuthenStart,
  type AuthenReply,
  type AuthenContinue,
  type ChallengeResponse,
  type ChallengeType,
} from "./authen";
export { encodeAuthorRequest, decodeAuthorRequest, encodeAuthorReply, decodeAuthorReply, type AuthorRequest, type AuthorReply } from "./author";
export { encodeAcctRequest, decodeAcctRequest, encodeAcctReply, decodeAcctReply, type AcctRequest, type AcctReply } from "./acct";
export { replyStatus, errorReplyBody, isTerminalAuthenStatus } from "./replies";
export { newSessionId, nextSeqNo, isClientSeqNo, minorVersionFor } from "./session";
