/**
 * gRPC length-prefixed messages: 1 byte compressed flag, 4 bytes big-endian length, the message.
 * The reader enforces the size limit as soon as a prefix arrives, before buffering the message.
 */
import { GrpcError, Status } from "./status";

export const PREFIX_LENGTH = 5;

/** One message with its 5-byte prefix (never compressed). */
export function encodeMessage(message: Uint8Array): Uint8Array {
  const frame = new Uint8Array(PREFIX_LENGTH + message.length);
  new DataView(frame.buffer).setUint32(1, message.length);
  frame.set(message, PREFIX_LENGTH);
  return frame;
}

/** Collects the messages of one request body; push() throws GrpcError on a violation. */
export class MessageReader {
  #buffer: Uint8Array = new Uint8Array(0);
  private readonly messages: Uint8Array[] = [];

  constructor(private readonly maxMessageBytes: number) {}

  push(chunk: Uint8Array): void {
    if (this.#buffer.length === 0) {
      this.#buffer = chunk;
    } else {
      const joined = new Uint8Array(this.#buffer.length + chunk.length);
      joined.set(this.#buffer);
      joined.set(chunk, this.#buffer.length);
      this.#buffer = joined;
    }
    while (this.#buffer.length >= PREFIX_LENGTH) {
      const flag = this.#buffer[0]!;
      const length = new DataView(this.#buffer.buffer, this.#buffer.byteOffset, PREFIX_LENGTH).getUint32(1);
      if (flag === 1) {
        throw new GrpcError(Status.UNIMPLEMENTED, "compressed messages are not supported; send them uncompressed (grpc-encoding identity)");
      }
      if (flag !== 0) throw new GrpcError(Status.INTERNAL, `invalid message flag ${flag} (expected 0)`);
      if (length > this.maxMessageBytes) {
        throw new GrpcError(Status.RESOURCE_EXHAUSTED, `request message of ${length} bytes exceeds the limit of ${this.maxMessageBytes} bytes`);
      }
      if (this.#buffer.length < PREFIX_LENGTH + length) return;
      if (this.messages.length > 0) throw new GrpcError(Status.INTERNAL, "more than one request message on a unary method");
      this.messages.push(this.#buffer.subarray(PREFIX_LENGTH, PREFIX_LENGTH + length));
      this.#buffer = this.#buffer.subarray(PREFIX_LENGTH + length);
    }
  }

  /** The one message of a unary request, once the client half-closed. */
  single(): Uint8Array {
    if (this.#buffer.length > 0) throw new GrpcError(Status.INTERNAL, `request ended inside a message (${this.#buffer.length} stray bytes)`);
    const message = this.messages[0];
    if (message === undefined) throw new GrpcError(Status.INTERNAL, "request ended without a message");
    return message;
  }
}
