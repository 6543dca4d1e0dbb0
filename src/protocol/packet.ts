/** Whole packets: header plus (de-)obfuscated body. */
import { copyInto } from "./bytes";
import { Flags, HEADER_LENGTH } from "./constants";
import { CodecError } from "./errors";
import { decodeHeader, writeHeader, type PacketHeader } from "./header";
import { obfuscateInto } from "./obfuscation";

/** A packet with its body in plaintext. */
export interface Packet {
  header: PacketHeader;
  body: Uint8Array;
}

function isUnencrypted(flags: number): boolean {
  return (flags & Flags.Unencrypted) !== 0;
}

/**
 * Encodes a packet, obfuscating the body unless the header carries the Unencrypted flag.
 * An obfuscated packet needs a key: without one this throws "missing-key".
 */
export function encodePacket(header: Omit<PacketHeader, "length">, body: Uint8Array, key?: Uint8Array): Uint8Array {
  const full: PacketHeader = {
    version: header.version,
    type: header.type,
    seqNo: header.seqNo,
    flags: header.flags,
    sessionId: header.sessionId,
    length: body.length,
  };
  const out = new Uint8Array(HEADER_LENGTH + body.length);
  writeHeader(out, full);
  if (isUnencrypted(header.flags)) {
    copyInto(out, HEADER_LENGTH, body);
  } else {
    if (!key) throw new CodecError("missing-key", "an obfuscated packet needs a shared secret (or the Unencrypted flag)");
    obfuscateInto(out, HEADER_LENGTH, body, 0, body.length, full, key);
  }
  return out;
}

/**
 * Decodes one whole frame (header + body, exactly). The body comes back in plaintext; for an
 * unencrypted packet it shares memory with `frame`.
 */
export function decodePacket(frame: Uint8Array, key?: Uint8Array, maxBodyLength?: number): Packet {
  const header = decodeHeader(frame, maxBodyLength);
  const bodyLength = frame.length - HEADER_LENGTH;
  if (bodyLength < header.length) {
    throw new CodecError("truncated", `body needs ${header.length} bytes, got ${bodyLength}`);
  }
  if (bodyLength > header.length) {
    throw new CodecError("length-mismatch", `frame has ${bodyLength - header.length} bytes after the ${header.length}-byte body`);
  }
  if (isUnencrypted(header.flags)) return { header, body: frame.subarray(HEADER_LENGTH) };
  if (!key) throw new CodecError("missing-key", "the packet is obfuscated but no shared secret is configured");
  const body = new Uint8Array(bodyLength);
  obfuscateInto(body, 0, frame, HEADER_LENGTH, bodyLength, header, key);
  return { header, body };
}
