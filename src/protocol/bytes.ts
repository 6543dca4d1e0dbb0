/**
 * Byte-level helpers for the codec's hot paths, all writing into plain Uint8Arrays.
 * Big-endian integers (network byte order, RFC 8907 §4.1) are read and written byte by byte. No
 * DataView: building one reads `.buffer`, which makes the engine materialise an ArrayBuffer behind
 * every small Uint8Array. Stores into a Uint8Array keep the low 8 bits, so no masks are needed.
 */

const encoder = new TextEncoder();

/** Below this length a JS loop copies faster than the native `set` call it saves. */
const SHORT_COPY = 64;

export function writeUint16(out: Uint8Array, offset: number, value: number): void {
  out[offset] = value >>> 8;
  out[offset + 1] = value;
}

export function writeUint32(out: Uint8Array, offset: number, value: number): void {
  out[offset] = value >>> 24;
  out[offset + 1] = value >>> 16;
  out[offset + 2] = value >>> 8;
  out[offset + 3] = value;
}

export function readUint16(bytes: Uint8Array, offset: number): number {
  return (bytes[offset]! << 8) | bytes[offset + 1]!;
}

export function readUint32(bytes: Uint8Array, offset: number): number {
  return ((bytes[offset]! << 24) | (bytes[offset + 1]! << 16) | (bytes[offset + 2]! << 8) | bytes[offset + 3]!) >>> 0;
}

/** Copies `bytes` into `out` at `offset` (`out.set`, minus the native call for short fields). */
export function copyInto(out: Uint8Array, offset: number, bytes: Uint8Array): void {
  if (bytes.length > SHORT_COPY) {
    out.set(bytes, offset);
    return;
  }
  for (let i = 0; i < bytes.length; i++) out[offset + i] = bytes[i]!;
}

/** Writes `text` into `out` at `offset` if it is all ASCII (one byte per character); false otherwise. */
export function copyAscii(text: string, out: Uint8Array, offset: number): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c >= 0x80) return false;
    out[offset + i] = c;
  }
  return true;
}

/** UTF-8 bytes of `text`; ASCII, nearly every TACACS+ field, is copied without calling the encoder. */
export function utf8(text: string): Uint8Array {
  const out = new Uint8Array(text.length);
  return copyAscii(text, out, 0) ? out : encoder.encode(text);
}
