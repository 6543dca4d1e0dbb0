import { describe, expect, test } from "bun:test";
import { createCipheriv } from "node:crypto";
import { ALERT, TlsFailure } from "./alerts";
import { TLS_AES_128_GCM_SHA256, TLS_AES_256_GCM_SHA384 } from "./cipher-suites";
import { trafficKeys } from "./key-schedule";
import { CONTENT, DEFAULT_KEY_LIMITS, keyLimitsFromEnvironment, MAX_PLAINTEXT, RecordLayer, TEST_REKEY_ENV } from "./record-layer";
import { concatBytes } from "./wire";

const SECRET = new Uint8Array(32).fill(0x42);

function pair(suite = TLS_AES_128_GCM_SHA256): { writer: RecordLayer; reader: RecordLayer } {
  const writer = new RecordLayer();
  const reader = new RecordLayer();
  writer.setWriteKeys(suite, SECRET);
  reader.setReadKeys(suite, SECRET);
  return { writer, reader };
}

function drain(layer: RecordLayer): { type: number; data: string; protected: boolean }[] {
  const out = [];
  for (let record = layer.next(); record; record = layer.next()) {
    out.push({ type: record.type, data: Buffer.from(record.fragment).toString(), protected: record.protected });
  }
  return out;
}

function failure(run: () => unknown): TlsFailure {
  try {
    run();
  } catch (error) {
    if (error instanceof TlsFailure) return error;
    throw error;
  }
  throw new Error("expected a TlsFailure");
}

/** Splits concatenated records into their wire bytes. */
function split(bytes: Uint8Array): Uint8Array[] {
  const out = [];
  for (let offset = 0; offset < bytes.length; ) {
    const length = (bytes[offset + 3]! << 8) | bytes[offset + 4]!;
    out.push(bytes.subarray(offset, offset + 5 + length));
    offset += 5 + length;
  }
  return out;
}

describe("protected records", () => {
  test("round trip with the inner content type, for both suites", () => {
    for (const suite of [TLS_AES_128_GCM_SHA256, TLS_AES_256_GCM_SHA384]) {
      const { writer, reader } = pair(suite);
      reader.push(concatBytes([writer.encode(CONTENT.application_data, Buffer.from("one")), writer.encode(CONTENT.alert, Uint8Array.of(1, 0))]));
      expect(drain(reader)).toEqual([
        { type: CONTENT.application_data, data: "one", protected: true },
        { type: CONTENT.alert, data: "\x01\x00", protected: true },
      ]);
    }
  });

  test("the outer header says application_data, TLS 1.2, ciphertext length", () => {
    const { writer } = pair();
    const record = writer.encode(CONTENT.handshake, new Uint8Array(10));
    expect([...record.subarray(0, 5)]).toEqual([23, 3, 3, 0, 10 + 1 + 16]);
  });

  test("nonces follow the sequence number: records out of order do not open", () => {
    const { writer, reader } = pair();
    const first = writer.encode(CONTENT.application_data, Buffer.from("first"));
    const second = writer.encode(CONTENT.application_data, Buffer.from("second"));
    reader.push(second);
    expect(failure(() => reader.next()).alert).toBe(ALERT.bad_record_mac);
    const fresh = pair().reader;
    fresh.push(concatBytes([first, second]));
    expect(drain(fresh).map((record) => record.data)).toEqual(["first", "second"]);
  });

  test("a tampered record is bad_record_mac", () => {
    const { writer, reader } = pair();
    const record = writer.encode(CONTENT.application_data, Buffer.from("payload"));
    record[8]! ^= 0x80;
    reader.push(record);
    expect(failure(() => reader.next()).alert).toBe(ALERT.bad_record_mac);
  });

  test("a write over 2^14 bytes becomes several records of at most 2^14 plaintext bytes", () => {
    const { writer, reader } = pair();
    const data = new Uint8Array(40_000).map((_, index) => index % 251);
    const records = split(writer.encode(CONTENT.application_data, data));
    expect(records.map((record) => record.length - 5 - 17)).toEqual([MAX_PLAINTEXT, MAX_PLAINTEXT, 40_000 - 2 * MAX_PLAINTEXT]);
    reader.push(concatBytes(records));
    const fragments = [];
    for (let record = reader.next(); record; record = reader.next()) fragments.push(record.fragment);
    expect(Buffer.from(concatBytes(fragments)).equals(Buffer.from(data))).toBe(true);
  });

  test("records split across pushes are reassembled", () => {
    const { writer, reader } = pair();
    const record = writer.encode(CONTENT.application_data, Buffer.from("split me"));
    reader.push(record.subarray(0, 3));
    expect(reader.next()).toBeUndefined();
    reader.push(record.subarray(3, 20));
    expect(reader.next()).toBeUndefined();
    reader.push(record.subarray(20));
    expect(drain(reader).map((r) => r.data)).toEqual(["split me"]);
  });

  test("zero padding after the content type is stripped; all-zero plaintext is refused (§5.4)", () => {
    const keys = trafficKeys(TLS_AES_128_GCM_SHA256, SECRET);
    const seal = (inner: Uint8Array, sequence: number): Uint8Array => {
      const nonce = Buffer.from(keys.iv);
      nonce[11]! ^= sequence;
      const header = Uint8Array.of(23, 3, 3, 0, inner.length + 16);
      const cipher = createCipheriv("aes-128-gcm", keys.key, nonce).setAAD(header);
      return concatBytes([header, cipher.update(inner), cipher.final(), cipher.getAuthTag()]);
    };
    const reader = pair().reader;
    reader.push(seal(concatBytes([Buffer.from("hi"), Uint8Array.of(CONTENT.application_data, 0, 0, 0)]), 0));
    expect(drain(reader)).toEqual([{ type: CONTENT.application_data, data: "hi", protected: true }]);
    reader.push(seal(new Uint8Array(5), 1));
    expect(failure(() => reader.next()).alert).toBe(ALERT.unexpected_message);
  });
});

describe("framing", () => {
  test("before keys, records pass unprotected", () => {
    const plain = new RecordLayer();
    const reader = new RecordLayer();
    reader.push(plain.encode(CONTENT.handshake, Buffer.from("hello")));
    expect(drain(reader)).toEqual([{ type: CONTENT.handshake, data: "hello", protected: false }]);
  });

  test("after keys, only application_data and change_cipher_spec may arrive: a plaintext alert is unexpected (§5.2, §6)", () => {
    const reader = pair().reader;
    reader.push(RecordLayer.changeCipherSpec());
    expect(drain(reader)).toEqual([{ type: CONTENT.change_cipher_spec, data: "\x01", protected: false }]);
    reader.push(new RecordLayer().encode(CONTENT.handshake, Buffer.from("x")));
    expect(failure(() => reader.next()).alert).toBe(ALERT.unexpected_message);
    const alerted = pair().reader;
    alerted.push(new RecordLayer().encode(CONTENT.alert, Uint8Array.of(1, 0)));
    expect(failure(() => alerted.next()).alert).toBe(ALERT.unexpected_message);
  });

  test("a record longer than 2^14 + 256 is record_overflow", () => {
    const reader = new RecordLayer();
    reader.push(Uint8Array.of(23, 3, 3, 0x41, 0x01));
    expect(failure(() => reader.next()).alert).toBe(ALERT.record_overflow);
  });
});

describe("keyLimitsFromEnvironment", () => {
  test("only a smaller positive integer lowers the limits; anything else keeps RFC 8446 §5.5's", () => {
    expect(keyLimitsFromEnvironment({ [TEST_REKEY_ENV]: "4" })).toEqual({ rekeyAfterRecords: 4, maxRecordsPerKey: 8 });
    for (const value of [undefined, "", "0", "-3", "2.5", "x", String(2 ** 23), "1e12"]) {
      expect(keyLimitsFromEnvironment({ [TEST_REKEY_ENV]: value })).toBe(DEFAULT_KEY_LIMITS);
    }
  });
});
