/**
 * gRPC length-prefixed messages: 1 byte compressed flag, 4 bytes big-endian length, the message.
 * The reader enforces the size limit as soon as a prefix arrives, before buffering the message.
 * No protobufjs here: the clients frame messages of their own codec (message-codec.ts); the
 * server's reply encoder, on protobufjs, is proto.ts's encodeReply.
 */
import { GrpcError, Status } from "./status";

export const PREFIX_LENGTH = 5;
/** Smaller messages are copied out of their chunk: in Bun, a view of a small fresh array costs more (it materialises the ArrayBuffer). */
const COPY_BELOW = 1024;
/** The first buffer of a message that arrives in parts. */
const MIN_BUFFER = 256;
const EMPTY = new Uint8Array(0);

/** Writes the 5-byte prefix (not compressed, `length`) at the start of `frame`. */
export function writePrefix(frame: Uint8Array, length: number): void {
  // Byte by byte: `.buffer` (for a DataView) costs an ArrayBuffer materialisation per call.
  frame[0] = 0;
  frame[1] = length >>> 24;
  frame[2] = (length >>> 16) & 0xff;
  frame[3] = (length >>> 8) & 0xff;
  frame[4] = length & 0xff;
}

/** One message with its 5-byte prefix (never compressed). */
export function encodeMessage(message: Uint8Array): Uint8Array {
  const frame = new Uint8Array(PREFIX_LENGTH + message.length);
  writePrefix(frame, message.length);
  frame.set(message, PREFIX_LENGTH);
  return frame;
}

/**
 * Collects the messages of one request body; push() throws GrpcError on a violation.
 * A message that arrives whole is parsed straight from its chunk. Otherwise the bytes are
 * copied into one buffer that doubles as it fills (never beyond the largest message): a slow
 * sender's tiny DATA frames cost neither an object each nor quadratic copying, and what the
 * reader holds is `heldBytes`, at most twice what arrived.
 */
export class MessageReader {
  #buffer = EMPTY;
  #length = 0;
  #message: Uint8Array | undefined;

  constructor(private readonly maxMessageBytes: number) {}

  /** Bytes of memory this reader keeps (its buffer and the message found). */
  get heldBytes(): number {
    return this.#buffer.length + (this.#message?.length ?? 0);
  }

  push(chunk: Uint8Array): void {
    let input = chunk;
    if (this.#length > 0) {
      this.#append(chunk);
      input = this.#buffer.subarray(0, this.#length);
    }
    let at = 0;
    while (input.length - at >= PREFIX_LENGTH) {
      const flag = input[at]!;
      const length = input[at + 1]! * 2 ** 24 + (input[at + 2]! << 16) + (input[at + 3]! << 8) + input[at + 4]!;
      if (flag === 1) {
        throw new GrpcError(Status.UNIMPLEMENTED, "compressed messages are not supported; send them uncompressed (grpc-encoding identity)");
      }
      if (flag !== 0) throw new GrpcError(Status.INTERNAL, `invalid message flag ${flag} (expected 0)`);
      if (length > this.maxMessageBytes) {
        throw new GrpcError(Status.RESOURCE_EXHAUSTED, `request message of ${length} bytes exceeds the limit of ${this.maxMessageBytes} bytes`);
      }
      const end = at + PREFIX_LENGTH + length;
      if (input.length < end) break;
      if (this.#message !== undefined) throw new GrpcError(Status.INTERNAL, "more than one request message on a unary method");
      // A view keeps its whole array alive: small messages, and any from our buffer, are copied.
      this.#message = length < COPY_BELOW || input !== chunk ? input.slice(at + PREFIX_LENGTH, end) : input.subarray(at + PREFIX_LENGTH, end);
      at = end;
    }
    if (input === chunk) {
      if (at < chunk.length) this.#append(chunk.subarray(at));
    } else if (at === this.#length) {
      this.#buffer = EMPTY;
      this.#length = 0;
    } else if (at > 0) {
      this.#buffer.copyWithin(0, at, this.#length);
      this.#length -= at;
    }
  }

  /** The one message of a unary request, once the client half-closed. */
  single(): Uint8Array {
    if (this.#length > 0) throw new GrpcError(Status.INTERNAL, `request ended inside a message (${this.#length} stray bytes)`);
    const message = this.#message;
    if (message === undefined) throw new GrpcError(Status.INTERNAL, "request ended without a message");
    return message;
  }

  #append(chunk: Uint8Array): void {
    const needed = this.#length + chunk.length;
    if (needed > this.#buffer.length) {
      const capacity = Math.max(needed, Math.min(Math.max(2 * this.#buffer.length, MIN_BUFFER), PREFIX_LENGTH + this.maxMessageBytes));
      const grown = new Uint8Array(capacity);
      grown.set(this.#buffer.subarray(0, this.#length));
      this.#buffer = grown;
    }
    this.#buffer.set(chunk, this.#length);
    this.#length = needed;
  }
}
