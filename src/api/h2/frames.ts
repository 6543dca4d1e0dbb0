/**
 * HTTP/2 frame constants (RFC 9113 §6, §7, §11) and the output buffer that collects the frames of
 * one connection until they are flushed with a single socket write.
 */

export const PREFACE = new TextEncoder().encode("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");
export const FRAME_HEADER_LENGTH = 9;

export const FrameType = {
  DATA: 0x0,
  HEADERS: 0x1,
  PRIORITY: 0x2,
  RST_STREAM: 0x3,
  SETTINGS: 0x4,
  PUSH_PROMISE: 0x5,
  PING: 0x6,
  GOAWAY: 0x7,
  WINDOW_UPDATE: 0x8,
  CONTINUATION: 0x9,
} as const;

export const Flag = { END_STREAM: 0x1, ACK: 0x1, END_HEADERS: 0x4, PADDED: 0x8, PRIORITY: 0x20 } as const;

/** §7 error codes. */
export const ErrorCode = {
  NO_ERROR: 0x0,
  PROTOCOL_ERROR: 0x1,
  INTERNAL_ERROR: 0x2,
  FLOW_CONTROL_ERROR: 0x3,
  SETTINGS_TIMEOUT: 0x4,
  STREAM_CLOSED: 0x5,
  FRAME_SIZE_ERROR: 0x6,
  REFUSED_STREAM: 0x7,
  CANCEL: 0x8,
  COMPRESSION_ERROR: 0x9,
  CONNECT_ERROR: 0xa,
  ENHANCE_YOUR_CALM: 0xb,
  INADEQUATE_SECURITY: 0xc,
  HTTP_1_1_REQUIRED: 0xd,
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

export const Setting = {
  HEADER_TABLE_SIZE: 0x1,
  ENABLE_PUSH: 0x2,
  MAX_CONCURRENT_STREAMS: 0x3,
  INITIAL_WINDOW_SIZE: 0x4,
  MAX_FRAME_SIZE: 0x5,
  MAX_HEADER_LIST_SIZE: 0x6,
} as const;

/** §6.5.2 defaults and bounds. */
export const DEFAULT_WINDOW = 65_535;
export const MAX_WINDOW = 2 ** 31 - 1;
export const MIN_MAX_FRAME_SIZE = 16_384;
export const MAX_MAX_FRAME_SIZE = 2 ** 24 - 1;

/** §6.5.1: a SETTINGS payload, 6 bytes per (identifier, value). */
export function settingsPayload(settings: ReadonlyArray<readonly [number, number]>): Uint8Array {
  const payload = new Uint8Array(6 * settings.length);
  const view = new DataView(payload.buffer);
  settings.forEach(([id, value], i) => {
    view.setUint16(6 * i, id);
    view.setUint32(6 * i + 2, value);
  });
  return payload;
}

/**
 * A growable byte buffer of outgoing frames. `take()` hands out the bytes collected so far as a
 * view that stays valid until the next write into the buffer.
 */
export class FrameBuffer {
  #bytes = new Uint8Array(16_384);
  #length = 0;

  get length(): number {
    return this.#length;
  }

  /** Appends one frame; `payload` may be given in parts (e.g. a prefix and a body). */
  frame(type: number, flags: number, streamId: number, ...payload: Uint8Array[]): void {
    let length = 0;
    for (const part of payload) length += part.length;
    const at = this.#reserve(FRAME_HEADER_LENGTH + length);
    const bytes = this.#bytes;
    bytes[at] = length >>> 16;
    bytes[at + 1] = (length >>> 8) & 0xff;
    bytes[at + 2] = length & 0xff;
    bytes[at + 3] = type;
    bytes[at + 4] = flags;
    bytes[at + 5] = (streamId >>> 24) & 0x7f;
    bytes[at + 6] = (streamId >>> 16) & 0xff;
    bytes[at + 7] = (streamId >>> 8) & 0xff;
    bytes[at + 8] = streamId & 0xff;
    let offset = at + FRAME_HEADER_LENGTH;
    for (const part of payload) {
      bytes.set(part, offset);
      offset += part.length;
    }
  }

  /** A frame whose payload is 32-bit words (RST_STREAM, WINDOW_UPDATE, GOAWAY without data). */
  words(type: number, flags: number, streamId: number, ...words: number[]): void {
    const payload = new Uint8Array(4 * words.length);
    const view = new DataView(payload.buffer);
    words.forEach((word, i) => view.setUint32(4 * i, word));
    this.frame(type, flags, streamId, payload);
  }

  /** The collected bytes; the buffer is empty afterwards. */
  take(): Uint8Array {
    const out = this.#bytes.subarray(0, this.#length);
    this.#length = 0;
    return out;
  }

  #reserve(size: number): number {
    const at = this.#length;
    if (at + size > this.#bytes.length) {
      const grown = new Uint8Array(Math.max(2 * this.#bytes.length, at + size));
      grown.set(this.#bytes.subarray(0, at));
      this.#bytes = grown;
    }
    this.#length = at + size;
    return at;
  }
}
