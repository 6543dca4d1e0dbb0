/**
 * The TLS 1.3 record layer (RFC 8446 §5): framing, AEAD protection with per-record nonces
 * (IV XOR 64-bit sequence number, §5.3), the inner content type (§5.2), and fragmentation of
 * writes to at most 2^14 plaintext bytes per record. Pure: bytes in, records/bytes out.
 */
import { createCipheriv, createDecipheriv } from "node:crypto";
import { ALERT, TlsFailure } from "./alerts";
import type { CipherSuite } from "./cipher-suites";
import { trafficKeys, type TrafficKeys } from "./key-schedule";
import { concatBytes } from "./wire";

export const CONTENT = { change_cipher_spec: 20, alert: 21, handshake: 22, application_data: 23 } as const;

/** §5.1: the largest plaintext fragment. */
export const MAX_PLAINTEXT = 2 ** 14;
/** §5.2: the largest TLSCiphertext fragment (plaintext + content type + padding + tag). */
const MAX_CIPHERTEXT = MAX_PLAINTEXT + 256;
const TAG_LENGTH = 16;
const HEADER_LENGTH = 5;

export interface Record {
  type: number;
  fragment: Uint8Array;
  /** Whether it arrived AEAD-protected. */
  protected: boolean;
}

/**
 * How many records one traffic key may protect (§5.5: AES-GCM stays safe for about 2^24.5
 * full-size records). We update our write key, and ask the server to update its own, once a key
 * has protected `rekeyAfterRecords`; a server key that reaches `maxRecordsPerKey` ends the
 * connection. Both stay far below 2^53, so sequence numbers are exact numbers and never wrap.
 */
export interface KeyLimits {
  rekeyAfterRecords: number;
  maxRecordsPerKey: number;
}

export const DEFAULT_KEY_LIMITS: KeyLimits = { rekeyAfterRecords: 2 ** 23, maxRecordsPerKey: Math.floor(2 ** 24.5) };

/** Lets end-to-end tests of the compiled agent see a rekey after a few records. */
export const TEST_REKEY_ENV = "TACACSRS_TEST_PSK_REKEY_AFTER_RECORDS";

/**
 * The limits, lowered by TEST_REKEY_ENV when it holds a smaller positive integer (the hard limit
 * becomes twice that). Not an operator setting: it can only make rekeys more frequent.
 */
export function keyLimitsFromEnvironment(env: { readonly [name: string]: string | undefined }): KeyLimits {
  const lowered = Number(env[TEST_REKEY_ENV]);
  if (!Number.isSafeInteger(lowered) || lowered < 1 || lowered >= DEFAULT_KEY_LIMITS.rekeyAfterRecords) return DEFAULT_KEY_LIMITS;
  return { rekeyAfterRecords: lowered, maxRecordsPerKey: 2 * lowered };
}

/** One direction's keys and record sequence number. */
class DirectionKeys {
  #sequence = 0;

  constructor(
    readonly suite: CipherSuite,
    private readonly keys: TrafficKeys,
  ) {}

  /** Records protected so far under these keys. */
  get records(): number {
    return this.#sequence;
  }

  /** §5.3: the 64-bit sequence number, left-padded to the IV length, XOR the IV. */
  nextNonce(): Buffer {
    const nonce = Buffer.from(this.keys.iv);
    let sequence = this.#sequence++;
    for (let index = nonce.length - 1; index >= nonce.length - 8; index--) {
      nonce[index]! ^= sequence % 256;
      sequence = Math.floor(sequence / 256);
    }
    return nonce;
  }

  get key(): Uint8Array {
    return this.keys.key;
  }

  wipe(): void {
    this.keys.key.fill(0);
    this.keys.iv.fill(0);
  }
}

function header(type: number, length: number): Uint8Array {
  return Uint8Array.of(type, 0x03, 0x03, length >> 8, length & 0xff);
}

export class RecordLayer {
  #read: DirectionKeys | undefined;
  #write: DirectionKeys | undefined;
  #buffer: Uint8Array = new Uint8Array(0);

  constructor(private readonly limits: KeyLimits = DEFAULT_KEY_LIMITS) {}

  /** Our write key has protected enough records: time for a KeyUpdate (§4.6.3, §5.5). */
  get writeKeyWornOut(): boolean {
    return (this.#write?.records ?? 0) >= this.limits.rekeyAfterRecords;
  }

  /** The server's key has protected enough records: time to ask it for a KeyUpdate. */
  get readKeyWornOut(): boolean {
    return (this.#read?.records ?? 0) >= this.limits.rekeyAfterRecords;
  }

  /** Installs the keys of `secret`; the replaced ones are wiped. */
  setReadKeys(suite: CipherSuite, secret: Uint8Array): void {
    this.#read?.wipe();
    this.#read = new DirectionKeys(suite, trafficKeys(suite, secret));
  }

  setWriteKeys(suite: CipherSuite, secret: Uint8Array): void {
    this.#write?.wipe();
    this.#write = new DirectionKeys(suite, trafficKeys(suite, secret));
  }

  /** Wipes both directions' keys; the connection is over. */
  wipe(): void {
    this.#read?.wipe();
    this.#write?.wipe();
  }

  /** Encodes `data` as records of `type`, at most 2^14 plaintext bytes each, under the write keys. */
  encode(type: number, data: Uint8Array): Uint8Array {
    const records: Uint8Array[] = [];
    let offset = 0;
    do {
      const chunk = data.subarray(offset, offset + MAX_PLAINTEXT);
      records.push(this.#seal(type, chunk));
      offset += chunk.length;
    } while (offset < data.length);
    return concatBytes(records);
  }

  /** The compatibility change_cipher_spec record: never protected (§5, §D.4). */
  static changeCipherSpec(): Uint8Array {
    return concatBytes([header(CONTENT.change_cipher_spec, 1), Uint8Array.of(1)]);
  }

  /** Buffers received bytes; `next()` then yields the complete records. */
  push(bytes: Uint8Array): void {
    this.#buffer = this.#buffer.length === 0 ? bytes.slice() : concatBytes([this.#buffer, bytes]);
  }

  /**
   * The next complete record, decrypted when protected, or undefined. One at a time: handling a
   * record may change the read keys (ServerHello, KeyUpdate) before the next is opened.
   */
  next(): Record | undefined {
    const data = this.#buffer;
    if (data.length < HEADER_LENGTH) return undefined;
    const length = (data[3]! << 8) | data[4]!;
    if (length > MAX_CIPHERTEXT) throw new TlsFailure(ALERT.record_overflow, `record of ${length} bytes is too large`);
    if (data.length < HEADER_LENGTH + length) return undefined;
    this.#buffer = data.subarray(HEADER_LENGTH + length);
    return this.#open(data.subarray(0, HEADER_LENGTH), data.subarray(HEADER_LENGTH, HEADER_LENGTH + length));
  }

  #seal(type: number, chunk: Uint8Array): Uint8Array {
    const keys = this.#write;
    if (!keys) return concatBytes([header(type, chunk.length), chunk]);
    if (keys.records >= this.limits.maxRecordsPerKey) throw new TlsFailure(ALERT.internal_error, "write key used up without a KeyUpdate");
    const inner = concatBytes([chunk, Uint8Array.of(type)]);
    const aad = header(CONTENT.application_data, inner.length + TAG_LENGTH);
    const cipher = createCipheriv(keys.suite.aead, keys.key, keys.nextNonce());
    cipher.setAAD(aad);
    const body = concatBytes([cipher.update(inner), cipher.final(), cipher.getAuthTag()]);
    return concatBytes([aad, body]);
  }

  #open(head: Uint8Array, fragment: Uint8Array): Record {
    const type = head[0]!;
    const keys = this.#read;
    // Unprotected: everything before the ServerHello keys (an alert from a server that failed
    // before it had keys included), and the compatibility change_cipher_spec. Once keys are in
    // use, alerts are protected too (§5.2, §6): a plaintext one could come from anyone on the path.
    if (!keys || type === CONTENT.change_cipher_spec) {
      if (fragment.length > MAX_PLAINTEXT) throw new TlsFailure(ALERT.record_overflow, "plaintext record is too large");
      return { type, fragment: fragment.slice(), protected: false };
    }
    if (type !== CONTENT.application_data) {
      throw new TlsFailure(ALERT.unexpected_message, `unprotected record of type ${type} after keys were set`);
    }
    if (fragment.length < TAG_LENGTH + 1) throw new TlsFailure(ALERT.bad_record_mac, "protected record is too short");
    if (keys.records >= this.limits.maxRecordsPerKey) {
      throw new TlsFailure(ALERT.unexpected_message, `server sent more than ${this.limits.maxRecordsPerKey} records under one key without a KeyUpdate (RFC 8446 §5.5)`);
    }
    let inner: Uint8Array;
    try {
      const decipher = createDecipheriv(keys.suite.aead, keys.key, keys.nextNonce());
      decipher.setAAD(head);
      decipher.setAuthTag(fragment.subarray(fragment.length - TAG_LENGTH));
      inner = concatBytes([decipher.update(fragment.subarray(0, fragment.length - TAG_LENGTH)), decipher.final()]);
    } catch {
      throw new TlsFailure(ALERT.bad_record_mac, "record does not decrypt (bad_record_mac)");
    }
    // §5.4: strip the zero padding; the last non-zero byte is the real content type.
    let end = inner.length - 1;
    while (end >= 0 && inner[end] === 0) end--;
    if (end < 0) throw new TlsFailure(ALERT.unexpected_message, "protected record has no content type");
    if (end > MAX_PLAINTEXT) throw new TlsFailure(ALERT.record_overflow, "decrypted record is too large");
    return { type: inner[end]!, fragment: inner.subarray(0, end), protected: true };
  }
}
