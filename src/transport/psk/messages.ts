/**
 * Handshake message framing and the extension lists they carry (RFC 8446 §4, §4.2).
 */
import { ALERT, TlsFailure } from "./alerts";
import { ByteReader, ByteWriter } from "./wire";

export const HANDSHAKE = {
  client_hello: 1,
  server_hello: 2,
  new_session_ticket: 4,
  end_of_early_data: 5,
  encrypted_extensions: 8,
  certificate: 11,
  certificate_request: 13,
  certificate_verify: 15,
  finished: 20,
  key_update: 24,
  message_hash: 254,
} as const;

export const EXTENSION = {
  server_name: 0,
  supported_groups: 10,
  signature_algorithms: 13,
  pre_shared_key: 41,
  early_data: 42,
  supported_versions: 43,
  cookie: 44,
  psk_key_exchange_modes: 45,
  key_share: 51,
} as const;

export const TLS13 = 0x0304;
export const LEGACY_VERSION = 0x0303;

/** One whole handshake message: its type, body, and the exact bytes for the transcript. */
export interface HandshakeMessage {
  type: number;
  body: Uint8Array;
  raw: Uint8Array;
}

export function encodeHandshake(type: number, body: Uint8Array): Uint8Array {
  return new ByteWriter().u8(type).vector(3, body).finish();
}

const NAMES = new Map<number, string>(Object.entries(HANDSHAKE).map(([name, code]) => [code, name]));

export function handshakeName(type: number): string {
  return NAMES.get(type) ?? `handshake type ${type}`;
}

/** Decodes an extension list; a repeated type is illegal (§4.2). */
export function parseExtensions(data: Uint8Array, where: string): Map<number, Uint8Array> {
  const reader = new ByteReader(data, `${where} extensions`);
  const extensions = new Map<number, Uint8Array>();
  while (reader.remaining > 0) {
    const type = reader.u16();
    const body = reader.vector(2);
    if (extensions.has(type)) throw new TlsFailure(ALERT.illegal_parameter, `${where} repeats extension ${type}`);
    extensions.set(type, body);
  }
  return extensions;
}

/** Fails with unsupported_extension when the server sent an extension we did not allow there (§4.2). */
export function rejectUnexpectedExtensions(
  extensions: Map<number, Uint8Array>,
  allowed: readonly number[],
  where: string,
): void {
  for (const type of extensions.keys()) {
    if (!allowed.includes(type)) {
      throw new TlsFailure(ALERT.unsupported_extension, `${where} carries extension ${type}, which we did not offer`);
    }
  }
}

/**
 * Splits a stream of handshake bytes into whole messages; a message may span records and a
 * record may hold several messages (§5.1).
 */
export class HandshakeReassembler {
  #pending = new Uint8Array(0);

  /** True while part of a message is buffered (a key change must not happen then, §5.1). */
  get hasPartial(): boolean {
    return this.#pending.length > 0;
  }

  push(fragment: Uint8Array, maxMessageBytes: number): HandshakeMessage[] {
    const data = new Uint8Array(this.#pending.length + fragment.length);
    data.set(this.#pending);
    data.set(fragment, this.#pending.length);
    const messages: HandshakeMessage[] = [];
    let offset = 0;
    while (data.length - offset >= 4) {
      const length = (data[offset + 1]! << 16) | (data[offset + 2]! << 8) | data[offset + 3]!;
      if (length > maxMessageBytes) {
        throw new TlsFailure(ALERT.unexpected_message, `handshake message of ${length} bytes is too large`);
      }
      if (data.length - offset < 4 + length) break;
      const raw = data.slice(offset, offset + 4 + length);
      messages.push({ type: raw[0]!, body: raw.subarray(4), raw });
      offset += 4 + length;
    }
    this.#pending = data.slice(offset);
    return messages;
  }
}
