/** Whole packets: header plus (de-)obfuscated body. */
import { Flags, HEADER_LENGTH } from "./constants";
import { CodecError } from "./errors";
import { decodeHeader, encodeHeader, type PacketHeader } from "./header";
import { obfuscate } from "./obfuscation";

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
  const full: PacketHeader = { ...header, length: body.length };
  const head = encodeHeader(full);
  let wireBody = body;
  if (!isUnencrypted(header.flags)) {
    if (!key) throw new CodecError("missing-key", "an obfuscated packet needs a shared secret (or the Unencrypted flag)");
    wireBody = obfuscate(body, full, key);
  }
  const out = new Uint8Array(HEADER_LENGTH + body.length);
  out.set(head, 0);
  out.set(wireBody, HEADER_LENGTH);
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
  const wireBody = frame.subarray(HEADER_LENGTH);
  if (isUnencrypted(header.flags)) return { header, body: wireBody };
  if (!key) throw new CodecError("missing-key", "the packet is obfuscated but no shared secret is configured");
  return { header, body: obfuscate(wireBody, header, key) };
}
