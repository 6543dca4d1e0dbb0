/** What the engine needs to know about a reply body: is it valid, is it ERROR, does it end the session. */
import {
  AcctStatus,
  AuthenStatus,
  AuthorStatus,
  decodeAcctReply,
  decodeAuthenReply,
  decodeAuthorReply,
  isTerminalAuthenStatus,
  PacketType,
} from "../protocol";

const ERROR_STATUS: Record<PacketType, number> = {
  [PacketType.Authentication]: AuthenStatus.Error,
  [PacketType.Authorization]: AuthorStatus.Error,
  [PacketType.Accounting]: AcctStatus.Error,
};

/** RFC 8907 §4.4: ERROR means the server could not serve the request (fail over); FAIL/FOLLOW are answers. */
export function isErrorStatus(type: PacketType, status: number): boolean {
  return ERROR_STATUS[type] === status;
}

/** Authorization and accounting sessions end with their first reply; authentication when terminal (§5.2). */
export function endsSession(type: PacketType, status: number): boolean {
  return type !== PacketType.Authentication || isTerminalAuthenStatus(status);
}

/**
 * Decodes a reply body only to validate it, throwing CodecError. A wrong shared secret de-obfuscates
 * into garbage whose lengths do not add up ("length-mismatch … wrong shared secret?").
 */
export function validateReplyBody(type: PacketType, body: Uint8Array): void {
  switch (type) {
    case PacketType.Authentication:
      decodeAuthenReply(body);
      return;
    case PacketType.Authorization:
      decodeAuthorReply(body);
      return;
    case PacketType.Accounting:
      decodeAcctReply(body);
      return;
  }
}
