/**
 * Body obfuscation (RFC 8907 §4.5): the body is XORed with a pseudo-pad of chained MD5 digests,
 *   pad_1 = MD5(session_id, key, version, seq_no), pad_n = MD5(session_id, key, version, seq_no, pad_n-1),
 * truncated to the body length. XOR is its own inverse, so the same function de-obfuscates.
 */
import { createHash } from "node:crypto";
import type { PacketHeader } from "./header";

const MD5_LENGTH = 16;

export function obfuscate(
  body: Uint8Array,
  header: Pick<PacketHeader, "sessionId" | "version" | "seqNo">,
  key: Uint8Array,
): Uint8Array {
  const out = new Uint8Array(body.length);
  if (body.length === 0) return out;
  const prefix = new Uint8Array(4 + key.length + 2);
  new DataView(prefix.buffer).setUint32(0, header.sessionId);
  prefix.set(key, 4);
  prefix[4 + key.length] = header.version;
  prefix[5 + key.length] = header.seqNo;
  let pad: Uint8Array | undefined;
  for (let offset = 0; offset < body.length; offset += MD5_LENGTH) {
    const hash = createHash("md5").update(prefix);
    if (pad) hash.update(pad);
    pad = hash.digest();
    const end = Math.min(offset + MD5_LENGTH, body.length);
    for (let i = offset; i < end; i++) out[i] = body[i]! ^ pad[i - offset]!;
  }
  return out;
}
