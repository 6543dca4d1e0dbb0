/**
 * Raw HTTP/2 frames (RFC 9113 §4.1) and an HPACK header block of literals (RFC 7541 §6.2.2, no
 * Huffman), so the fuzzers can send what no HTTP/2 client library would: bad frames, bad stream
 * ids, truncated or oversized bodies, gRPC messages with lying length prefixes.
 */
export const PREFACE = new TextEncoder().encode("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");

export const FrameType = { Data: 0, Headers: 1, Priority: 2, RstStream: 3, Settings: 4, PushPromise: 5, Ping: 6, GoAway: 7, WindowUpdate: 8, Continuation: 9 } as const;
export const FrameFlag = { EndStream: 0x1, EndHeaders: 0x4 } as const;

/** One frame; `declaredLength` lets a frame lie about its payload size. */
export function frame(type: number, flags: number, streamId: number, payload: Uint8Array = new Uint8Array(0), declaredLength = payload.length): Uint8Array {
  const out = new Uint8Array(9 + payload.length);
  const view = new DataView(out.buffer);
  view.setUint8(0, (declaredLength >>> 16) & 0xff);
  view.setUint16(1, declaredLength & 0xffff);
  view.setUint8(3, type);
  view.setUint8(4, flags);
  view.setUint32(5, streamId >>> 0);
  out.set(payload, 9);
  return out;
}

/** HPACK integer with an N-bit prefix (RFC 7541 §5.1). */
function hpackInteger(value: number, prefixBits: number, firstByte = 0): number[] {
  const max = (1 << prefixBits) - 1;
  if (value < max) return [firstByte | value];
  const bytes = [firstByte | max];
  let rest = value - max;
  while (rest >= 128) {
    bytes.push((rest % 128) + 128);
    rest = Math.floor(rest / 128);
  }
  bytes.push(rest);
  return bytes;
}

function hpackString(text: string): number[] {
  const bytes = new TextEncoder().encode(text);
  return [...hpackInteger(bytes.length, 7), ...bytes];
}

/** A header block of "literal without indexing, new name" fields, in the given order. */
export function headerBlock(headers: readonly [string, string][]): Uint8Array {
  return Uint8Array.from(headers.flatMap(([name, value]) => [0x00, ...hpackString(name), ...hpackString(value)]));
}

/** The headers of a gRPC call to `path`. */
export function grpcHeaders(path: string, extra: [string, string][] = []): [string, string][] {
  return [
    [":method", "POST"],
    [":scheme", "http"],
    [":path", path],
    [":authority", "localhost"],
    ["content-type", "application/grpc"],
    ["te", "trailers"],
    ...extra,
  ];
}

/** A gRPC length-prefixed message; `declaredLength` and `flag` may lie. */
export function grpcMessage(message: Uint8Array, flag = 0, declaredLength = message.length): Uint8Array {
  const out = new Uint8Array(5 + message.length);
  const view = new DataView(out.buffer);
  view.setUint8(0, flag);
  view.setUint32(1, declaredLength >>> 0);
  out.set(message, 5);
  return out;
}

/** A SETTINGS frame from [identifier, value] pairs. */
export function settings(pairs: readonly [number, number][]): Uint8Array {
  const payload = new Uint8Array(pairs.length * 6);
  const view = new DataView(payload.buffer);
  pairs.forEach(([id, value], i) => {
    view.setUint16(i * 6, id);
    view.setUint32(i * 6 + 2, value >>> 0);
  });
  return frame(FrameType.Settings, 0, 0, payload);
}

export function u32(value: number): Uint8Array {
  const out = new Uint8Array(4);
  new DataView(out.buffer).setUint32(0, value >>> 0);
  return out;
}
