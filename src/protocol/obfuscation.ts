/**
 * Body obfuscation (RFC 8907 §4.5): the body is XORed with a pseudo-pad of chained MD5 digests,
 *   pad_1 = MD5(session_id, key, version, seq_no), pad_n = MD5(session_id, key, version, seq_no, pad_n-1),
 * truncated to the body length. XOR is its own inverse, so the same function de-obfuscates.
 */
import { hash } from "node:crypto";
import type { PacketHeader } from "./header";

const MD5_LENGTH = 16;

export function obfuscate(
  body: Uint8Array,
  header: Pick<PacketHeader, "sessionId" | "version" | "seqNo">,
  key: Uint8Array,
): Uint8Array {
  const out = new Uint8Array(body.length);
  if (body.length === 0) return out;
  // One buffer holds the hash input: session_id, key, version, seq_no, then the previous pad.
  // The one-shot node:crypto hash over it is about twice as fast as a createHash object per block.
  const prefixLength = 4 + key.length + 2;
  const input = new Uint8Array(prefixLength + MD5_LENGTH);
  new DataView(input.buffer).setUint32(0, header.sessionId);
  input.set(key, 4);
  input[prefixLength - 2] = header.version;
  input[prefixLength - 1] = header.seqNo;
  let hashed = input.subarray(0, prefixLength);
  for (let offset = 0; offset < body.length; offset += MD5_LENGTH) {
    const pad = hash("md5", hashed, "buffer");
    const end = Math.min(offset + MD5_LENGTH, body.length);
    for (let i = offset; i < end; i++) out[i] = body[i]! ^ pad[i - offset]!;
    input.set(pad, prefixLength);
    hashed = input;
  }
  return out;
}
