/** The 12-byte packet header (RFC 8907 §4.1). */
import { readUint32, writeUint32 } from "./bytes";
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
  const out = new Uint8Array(HEADER_LENGTH);
  writeHeader(out, h);
  return out;
}

/** Validates `h` and writes it into the first 12 bytes of `out` (a whole packet being built). */
export function writeHeader(out: Uint8Array, h: PacketHeader): void {
  if (!isUint(h.version, 0xff)) throw new CodecError("bad-version", `version ${h.version} is not a byte`);
  checkVersion(h.version);
  checkType(h.type);
  if (!Number.isInteger(h.seqNo)) throw new CodecError("bad-seq", `sequence number ${h.seqNo} is not an integer`);
  checkSeqNo(h.seqNo);
  if (!isUint(h.flags, 0xff)) throw new CodecError("bad-flags", `flags ${h.flags} is not a byte`);
  checkFlags(h.flags);
  if (!isUint(h.sessionId, 0xffffffff)) throw new CodecError("bad-field", `session id ${h.sessionId} is not a 32-bit unsigned integer`);
  if (!isUint(h.length, MAX_BODY_LENGTH_CAP)) throw new CodecError("too-large", `body length ${h.length} is outside 0..${MAX_BODY_LENGTH_CAP}`);
  out[0] = h.version;
  out[1] = h.type;
  out[2] = h.seqNo;
  out[3] = h.flags;
  writeUint32(out, 4, h.sessionId);
  writeUint32(out, 8, h.length);
}

/** Decodes and validates a header; a length over `maxBodyLength` is refused before any body is read. */
export function decodeHeader(bytes: Uint8Array, maxBodyLength?: number): PacketHeader {
  return decodeHeaderAt(bytes, 0, maxBodyLength);
}

/** `decodeHeader` of the 12 bytes at `offset`, without a view of them. */
export function decodeHeaderAt(bytes: Uint8Array, offset: number, maxBodyLength?: number): PacketHeader {
  const max = checkMaxBodyLength(maxBodyLength);
  const available = bytes.length - offset;
  if (available < HEADER_LENGTH) {
    throw new CodecError("truncated", `header needs ${HEADER_LENGTH} bytes, got ${available}`);
  }
  const version = bytes[offset]!;
  const type = bytes[offset + 1]!;
  const seqNo = bytes[offset + 2]!;
  const flags = bytes[offset + 3]!;
  checkVersion(version);
  checkType(type);
  checkSeqNo(seqNo);
  checkFlags(flags);
  const length = readUint32(bytes, offset + 8);
  if (length > max) throw new CodecError("too-large", `body length ${length} exceeds the maximum ${max}`);
  return { version, type, seqNo, flags, sessionId: readUint32(bytes, offset + 4), length };
}
