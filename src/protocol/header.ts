/** The 12-byte packet header (RFC 8907 §4.1). */
import { Flags, HEADER_LENGTH, MAJOR_VERSION, MAX_BODY_LENGTH_CAP, MAX_BODY_LENGTH_DEFAULT, PacketType } from "./constants";
import { CodecError } from "./errors";

export interface PacketHeader {
  version: number;
  type: PacketType;
  seqNo: number;
  flags: number;
  sessionId: number;
  length: number;
}

const KNOWN_FLAGS = Flags.Unencrypted | Flags.SingleConnect;

/** Validates a caller's maximum body length against the hard cap; returns the effective limit. */
export function checkMaxBodyLength(maxBodyLength: number = MAX_BODY_LENGTH_DEFAULT): number {
  if (!Number.isInteger(maxBodyLength) || maxBodyLength < 0 || maxBodyLength > MAX_BODY_LENGTH_CAP) {
    throw new CodecError("too-large", `maximum body length ${maxBodyLength} is outside 0..${MAX_BODY_LENGTH_CAP}`);
  }
  return maxBodyLength;
}

function checkVersion(version: number): void {
  if (version >> 4 !== MAJOR_VERSION || (version & 0x0f) > 1) {
    throw new CodecError("bad-version", `unsupported version 0x${version.toString(16).padStart(2, "0")} (expected 0xc0 or 0xc1)`);
  }
}

function checkType(type: number): void {
  if (type < PacketType.Authentication || type > PacketType.Accounting) {
    throw new CodecError("bad-type", `unknown packet type ${type}`);
  }
}

function checkSeqNo(seqNo: number): void {
  // §4.1: the first packet of a session is 1; seq_no never wraps, so 0 is never valid.
  if (seqNo < 1 || seqNo > 255) throw new CodecError("bad-seq", `sequence number ${seqNo} is outside 1..255`);
}

function checkFlags(flags: number): void {
  if ((flags & ~KNOWN_FLAGS) !== 0) {
    throw new CodecError("bad-flags", `unknown header flags 0x${flags.toString(16).padStart(2, "0")}`);
  }
}

function isUint(value: number, max: number): boolean {
  return Number.isInteger(value) && value >= 0 && value <= max;
}

export function encodeHeader(h: PacketHeader): Uint8Array {
  if (!isUint(h.version, 0xff)) throw new CodecError("bad-version", `version ${h.version} is not a byte`);
  checkVersion(h.version);
  checkType(h.type);
  if (!Number.isInteger(h.seqNo)) throw new CodecError("bad-seq", `sequence number ${h.seqNo} is not an integer`);
  checkSeqNo(h.seqNo);
  if (!isUint(h.flags, 0xff)) throw new CodecError("bad-flags", `flags ${h.flags} is not a byte`);
  checkFlags(h.flags);
  if (!isUint(h.sessionId, 0xffffffff)) throw new CodecError("bad-field", `session id ${h.sessionId} is not a 32-bit unsigned integer`);
  if (!isUint(h.length, MAX_BODY_LENGTH_CAP)) throw new CodecError("too-large", `body length ${h.length} is outside 0..${MAX_BODY_LENGTH_CAP}`);
  const out = new Uint8Array(HEADER_LENGTH);
  const view = new DataView(out.buffer);
  out[0] = h.version;
  out[1] = h.type;
  out[2] = h.seqNo;
  out[3] = h.flags;
  view.setUint32(4, h.sessionId);
  view.setUint32(8, h.length);
  return out;
}

/** Decodes and validates a header; a length over `maxBodyLength` is refused before any body is read. */
export function decodeHeader(bytes: Uint8Array, maxBodyLength?: number): PacketHeader {
  const max = checkMaxBodyLength(maxBodyLength);
  if (bytes.length < HEADER_LENGTH) {
    throw new CodecError("truncated", `header needs ${HEADER_LENGTH} bytes, got ${bytes.length}`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, HEADER_LENGTH);
  const version = view.getUint8(0);
  const type = view.getUint8(1);
  const seqNo = view.getUint8(2);
  const flags = view.getUint8(3);
  checkVersion(version);
  checkType(type);
  checkSeqNo(seqNo);
  checkFlags(flags);
  const length = view.getUint32(8);
  if (length > max) throw new CodecError("too-large", `body length ${length} exceeds the maximum ${max}`);
  return { version, type, seqNo, flags, sessionId: view.getUint32(4), length };
}
