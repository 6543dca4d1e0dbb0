/**
 * gRPC length-prefixed messages: 1 byte compressed flag, 4 bytes big-endian length, the message.
 * The reader enforces the size limit as soon as a prefix arrives, before buffering the message.
 */
import { Writer, type Type } from "protobufjs/light";
import { GrpcError, Status } from "./status";

export const PREFIX_LENGTH = 5;
const EMPTY_PREFIX = new Uint8Array(PREFIX_LENGTH);
/** Smaller messages are copied out of their chunk: in Bun, a view of a small fresh array costs more (it materialises the ArrayBuffer). */
const COPY_BELOW = 1024;

/** One message with its 5-byte prefix (never compressed). */
export function encodeMessage(message: Uint8Array): Uint8Array {
  const frame = new Uint8Array(PREFIX_LENGTH + message.length);
  // Byte by byte: `.buffer` (for a DataView) costs an ArrayBuffer materialisation per call.
  const length = message.length;
  frame[1] = length >>> 24;
  frame[2] = (length >>> 16) & 0xff;
  frame[3] = (length >>> 8) & 0xff;
  frame[4] = length & 0xff;
  frame.set(message, PREFIX_LENGTH);
  return frame;
}

/** One writer for every reply: encoding is synchronous, and each reply is copied out of it. */
const replyWriter = new Writer();

/**
 * `message` encoded as `type`, with its 5-byte prefix, in one fresh array: the prefix is
 * reserved in the reused writer, so there is no intermediate buffer and no second copy.
 */
export function encodeReply(type: Type, message: object): Uint8Array {
  const writer = replyWriter.reset();
  writer.raw(EMPTY_PREFIX);
  type.encode(message, writer);
  const bytes = writer.buf;
  const length = writer.pos - PREFIX_LENGTH;
  bytes[0] = 0;
  bytes[1] = length >>> 24;
  bytes[2] = (length >>> 16) & 0xff;
  bytes[3] = (length >>> 8) & 0xff;
  bytes[4] = length & 0xff;
  return bytes.slice(0, writer.pos);
}

/**
 * Collects the messages of one request body; push() throws GrpcError on a violation.
 * Chunks are kept as received and joined once per prefix or message, so the work stays linear in
 * the body size however small the DATA frames of a slow sender are.
 */
export class MessageReader {
  #chunks: Uint8Array[] = [];
  #buffered = 0;
  #message: Uint8Array | undefined;

  constructor(private readonly maxMessageBytes: number) {}

  push(chunk: Uint8Array): void {
    if (chunk.length > 0) {
      this.#chunks.push(chunk);
      this.#buffered += chunk.length;
    }
    while (this.#buffered >= PREFIX_LENGTH) {
      const prefix = this.#front(PREFIX_LENGTH);
      const flag = prefix[0]!;
      const length = prefix[1]! * 2 ** 24 + (prefix[2]! << 16) + (prefix[3]! << 8) + prefix[4]!;
      if (flag === 1) {
        throw new GrpcError(Status.UNIMPLEMENTED, "compressed messages are not supported; send them uncompressed (grpc-encoding identity)");
      }
      if (flag !== 0) throw new GrpcError(Status.INTERNAL, `invalid message flag ${flag} (expected 0)`);
      if (length > this.maxMessageBytes) {
        throw new GrpcError(Status.RESOURCE_EXHAUSTED, `request message of ${length} bytes exceeds the limit of ${this.maxMessageBytes} bytes`);
      }
      if (this.#buffered < PREFIX_LENGTH + length) return;
      if (this.#message !== undefined) throw new GrpcError(Status.INTERNAL, "more than one request message on a unary method");
      const end = PREFIX_LENGTH + length;
      const joined = this.#front(end);
      this.#message = length < COPY_BELOW ? joined.slice(PREFIX_LENGTH, end) : joined.subarray(PREFIX_LENGTH, end);
      this.#consume(end);
    }
  }

  /** The one message of a unary request, once the client half-closed. */
  single(): Uint8Array {
    if (this.#buffered > 0) throw new GrpcError(Status.INTERNAL, `request ended inside a message (${this.#buffered} stray bytes)`);
    const message = this.#message;
    if (message === undefined) throw new GrpcError(Status.INTERNAL, "request ended without a message");
    return message;
  }

  /** The first chunk, holding at least `length` bytes (the chunks are joined when it does not). */
  #front(length: number): Uint8Array {
    const first = this.#chunks[0]!;
    if (first.length >= length) return first;
    const joined = new Uint8Array(this.#buffered);
    let at = 0;
    for (const chunk of this.#chunks) {
      joined.set(chunk, at);
      at += chunk.length;
    }
    this.#chunks = [joined];
    return joined;
  }

  /** Drops `length` bytes from the front (they lie within the first chunk). */
  #consume(length: number): void {
    const first = this.#chunks[0]!;
    if (length === first.length) this.#chunks.shift();
    else this.#chunks[0] = first.subarray(length);
    this.#buffered -= length;
  }
}
