/**
 * The session engine: records, alerts and close_notify around the handshake, against the
 * scripted server over in-memory bytes.
 */
import { describe, expect, test } from "bun:test";
import { FakePskServer, messagesOf } from "../../../test/support/psk-fake-server";
import { ALERT, PeerAlert, TlsFailure, encodeAlert } from "./alerts";
import { pskCounters } from "./counters";
import type { PskHandshakeConfig } from "./handshake";
import { HANDSHAKE, encodeHandshake } from "./messages";
import { CONTENT, RecordLayer, type KeyLimits, type Record } from "./record-layer";
import { PskClientSession, type EstablishedInfo } from "./session";
import { concatBytes } from "./wire";

const KEY = new Uint8Array(Buffer.from("00112233445566778899aabbccddeeff", "hex"));
const CONFIG: PskHandshakeConfig = {
  identity: new TextEncoder().encode("client1"),
  key: KEY,
  keyExchange: "psk-dhe",
  groups: ["secp256r1"],
};

interface Harness {
  session: PskClientSession;
  server: FakePskServer;
  /** Records the client sent, decrypted by the server's record layer as it goes. */
  fromClient(): Record[];
  /** Raw bytes the client sent since the last call. */
  sentBytes(): Uint8Array;
  established: EstablishedInfo[];
  data: string[];
  ended: { error?: Error }[];
}

function harness(config = CONFIG, limits?: KeyLimits): Harness {
  const server = new FakePskServer({ key: KEY });
  let pending: Uint8Array[] = [];
  const established: EstablishedInfo[] = [];
  const data: string[] = [];
  const ended: { error?: Error }[] = [];
  // The session owns its copy of the key: it wipes it once the early secret is derived.
  const session = new PskClientSession({ ...config, key: config.key.slice() }, {
    send: (bytes) => pending.push(bytes.slice()),
    onEstablished: (info) => established.push(info),
    onData: (chunk) => data.push(Buffer.from(chunk).toString()),
    onEnd: (error) => ended.push(error ? { error } : {}),
  }, undefined, limits);
  const sentBytes = (): Uint8Array => {
    const bytes = concatBytes(pending);
    pending = [];
    return bytes;
  };
  const fromClient = (): Record[] => server.receive(sentBytes());
  return { session, server, fromClient, sentBytes, established, data, ended };
}

/** Runs the handshake to completion; returns the harness with the server on application keys. */
function connected(limits?: KeyLimits): Harness {
  const h = harness(CONFIG, limits);
  h.session.start();
  const [hello] = h.fromClient();
  h.server.receiveClientHello(hello!.fragment);
  h.session.receive(h.server.flight());
  const records = h.fromClient();
  expect(records.map((record) => record.type)).toEqual([CONTENT.change_cipher_spec, CONTENT.handshake]);
  expect(h.server.verifyClientFinished(messagesOf(records[1]!.fragment)[0]!)).toBe(true);
  h.server.records.setWriteKeys(h.server.suite, h.server.serverAppSecret);
  return h;
}

describe("handshake over records", () => {
  test("a whole server flight in one chunk establishes the session", () => {
    const h = connected();
    expect(h.established).toEqual([{ suite: "TLS_AES_128_GCM_SHA256", keyExchange: "psk-dhe", group: "secp256r1" }]);
    expect(h.session.connected).toBe(true);
  });

  test("the same flight delivered one byte at a time", () => {
    const h = harness();
    h.session.start();
    h.server.receiveClientHello(h.fromClient()[0]!.fragment);
    const flight = h.server.flight();
    for (const byte of flight) h.session.receive(Uint8Array.of(byte));
    expect(h.established.length).toBe(1);
    expect(h.ended).toEqual([]);
  });

  test("ServerHello followed by more handshake data in the same plaintext record is refused (§5.1)", () => {
    const h = harness();
    h.session.start();
    h.server.receiveClientHello(h.fromClient()[0]!.fragment);
    const both = concatBytes([h.server.serverHello(), h.server.encryptedExtensions()]);
    h.session.receive(new RecordLayer().encode(CONTENT.handshake, both));
    expect((h.ended[0]?.error as TlsFailure).alert).toBe(ALERT.unexpected_message);
  });

  test("a server alert before ServerHello fails the handshake with its name and a hint", () => {
    const h = harness();
    h.session.start();
    h.sentBytes();
    h.session.receive(new RecordLayer().encode(CONTENT.alert, encodeAlert(ALERT.illegal_parameter)));
    const error = h.ended[0]?.error;
    expect(error).toBeInstanceOf(PeerAlert);
    expect(error?.message).toBe("server sent alert illegal_parameter (47): wrong PSK?");
    expect(h.sentBytes().length).toBe(0); // no alert answers an alert
  });

  test("a bad server Finished sends decrypt_error, protected under the handshake keys", () => {
    const h = harness();
    h.session.start();
    h.server.receiveClientHello(h.fromClient()[0]!.fragment);
    const hello = new RecordLayer().encode(CONTENT.handshake, h.server.serverHello());
    h.server.records.setWriteKeys(h.server.suite, h.server.serverHandshakeSecret);
    h.server.records.setReadKeys(h.server.suite, h.server.clientHandshakeSecret);
    const rest = h.server.records.encode(CONTENT.handshake, concatBytes([h.server.encryptedExtensions(), h.server.finished(true)]));
    h.session.receive(concatBytes([hello, rest]));
    expect(h.fromClient()).toEqual([{ type: CONTENT.alert, fragment: Uint8Array.of(2, ALERT.decrypt_error), protected: true }]);
    expect(h.ended[0]?.error?.message).toMatch(/Finished does not verify/);
  });

  test("application data before the handshake finished is unexpected_message", () => {
    const h = harness();
    h.session.start();
    h.sentBytes();
    h.session.receive(new RecordLayer().encode(CONTENT.application_data, Buffer.from("early")));
    expect((h.ended[0]?.error as TlsFailure).alert).toBe(ALERT.unexpected_message);
    expect(h.data).toEqual([]);
  });

  test("a non-TLS answer (a plain TACACS+ server) is named", () => {
    const h = harness();
    h.session.start();
    h.session.receive(Uint8Array.of(0xc0, 0x02, 0x02, 0x00, 0x05, 1, 2, 3, 4, 5));
    expect(h.ended[0]?.error?.message).toMatch(/unknown type 192 \(is it a TLS 1\.3 server\?\)/);
  });

  test("the transport closing mid-handshake ends the session with an error", () => {
    const h = harness();
    h.session.start();
    h.session.transportClosed();
    expect(h.ended[0]?.error?.message).toMatch(/during the handshake/);
  });
});

describe("application data", () => {
  test("each write is its own record(s), never merged", () => {
    const h = connected();
    h.session.write(Buffer.from("first packet"));
    h.session.write(Buffer.from("second packet"));
    h.session.write(new Uint8Array(20_000).fill(0x41));
    const records = h.fromClient();
    expect(records.map((record) => record.fragment.length)).toEqual([12, 13, 16_384, 20_000 - 16_384]);
    expect(records.every((record) => record.type === CONTENT.application_data && record.protected)).toBe(true);
  });

  test("server data arrives in order", () => {
    const h = connected();
    h.session.receive(concatBytes([h.server.records.encode(CONTENT.application_data, Buffer.from("a")), h.server.records.encode(CONTENT.application_data, Buffer.from("b"))]));
    expect(h.data).toEqual(["a", "b"]);
  });

  test("NewSessionTicket is ignored", () => {
    const h = connected();
    h.session.receive(h.server.records.encode(CONTENT.handshake, encodeHandshake(HANDSHAKE.new_session_ticket, new Uint8Array(20))));
    expect(h.ended).toEqual([]);
    expect(h.sentBytes().length).toBe(0);
  });

  test("KeyUpdate with update_requested: answered at once, and both directions use the next keys", () => {
    const h = connected();
    h.session.receive(h.server.keyUpdates(1, true));
    expect(h.fromClient()).toEqual([{ type: CONTENT.handshake, fragment: h.server.keyUpdate(false), protected: true }]);
    h.session.write(Buffer.from("after update"));
    expect(h.fromClient().map((record) => Buffer.from(record.fragment).toString())).toEqual(["after update"]);
    h.session.receive(h.server.records.encode(CONTENT.application_data, Buffer.from("from server")));
    expect(h.data).toEqual(["from server"]);
  });
});

describe("KeyUpdate floods (RFC 8446 §4.6.3)", () => {
  const kinds = (records: Record[]): string[] =>
    records.map((record) => (record.type === CONTENT.handshake ? `KeyUpdate(${record.fragment[4]})` : Buffer.from(record.fragment).toString()));

  test("a burst of update_requested gets one KeyUpdate back, before our next application data", () => {
    const h = connected();
    h.session.receive(h.server.keyUpdates(20, true));
    h.session.write(Buffer.from("after"));
    h.session.write(Buffer.from("again"));
    expect(kinds(h.fromClient())).toEqual(["KeyUpdate(0)", "after", "again"]);
    h.session.receive(h.server.records.encode(CONTENT.application_data, Buffer.from("on the 20th key")));
    expect(h.data).toEqual(["on the 20th key"]);
  });

  test("up to 32 KeyUpdates between application data are taken; the 33rd in a row is unexpected_message", () => {
    const h = connected();
    const before = { ...pskCounters };
    for (let round = 0; round < 3; round++) {
      h.session.receive(h.server.keyUpdates(32, true));
      h.session.receive(h.server.records.encode(CONTENT.application_data, Buffer.from(`${round}`)));
      h.session.write(Buffer.from("reply"));
    }
    expect(kinds(h.fromClient())).toEqual(["KeyUpdate(0)", "reply", "KeyUpdate(0)", "reply", "KeyUpdate(0)", "reply"]);
    expect(h.server.clientKeyUpdates).toEqual([false, false, false]);
    expect(h.ended).toEqual([]);
    h.session.receive(h.server.keyUpdates(33, true));
    expect((h.ended[0]?.error as TlsFailure).alert).toBe(ALERT.unexpected_message);
    expect(pskCounters.keyUpdatesReceived - before.keyUpdatesReceived).toBe(3 * 32 + 33);
    expect(pskCounters.keyUpdatesSent - before.keyUpdatesSent).toBe(3);
    expect(pskCounters.failuresAfterHandshake - before.failuresAfterHandshake).toBe(1);
    expect(h.fromClient()).toEqual([{ type: CONTENT.alert, fragment: Uint8Array.of(2, ALERT.unexpected_message), protected: true }]);
  });
});

describe("record limits per key (RFC 8446 §5.5)", () => {
  const LIMITS: KeyLimits = { rekeyAfterRecords: 4, maxRecordsPerKey: 6 };

  test("our write key is updated after the lowered limit: the server sees a KeyUpdate every 4 records", () => {
    const h = connected(LIMITS);
    const before = { ...pskCounters };
    for (let index = 0; index < 10; index++) h.session.write(Buffer.from(`${index}`));
    const records = h.fromClient();
    expect(records.map((record) => (record.type === CONTENT.handshake ? "K" : "A")).join("")).toBe("AAAAKAAAAKAA");
    expect(h.server.clientKeyUpdates).toEqual([false, false]);
    expect(pskCounters.rekeysAtRecordLimit - before.rekeysAtRecordLimit).toBe(2);
    expect(pskCounters.keyUpdatesSent - before.keyUpdatesSent).toBe(2);
    expect(records.filter((record) => record.type === CONTENT.application_data).map((record) => Buffer.from(record.fragment).toString()).join("")).toBe("0123456789");
  });

  test("a worn server key: we ask for its update; past the hard limit without one the connection closes", () => {
    const h = connected(LIMITS);
    const fromServer = (count: number): Uint8Array =>
      concatBytes(Array.from({ length: count }, (_, index) => h.server.records.encode(CONTENT.application_data, Buffer.from(`${index}`))));
    h.session.receive(fromServer(4));
    h.session.write(Buffer.from("ask"));
    h.fromClient();
    expect(h.server.clientKeyUpdates).toEqual([true]);
    // The server answers: its new key starts a new count.
    h.session.receive(h.server.keyUpdates(1, false));
    h.session.receive(fromServer(6));
    expect(h.ended).toEqual([]);
    h.session.receive(fromServer(1));
    expect((h.ended[0]?.error as TlsFailure).reason).toMatch(/more than 6 records under one key/);
    expect(h.data.length).toBe(10);
  });
});

describe("closing", () => {
  test("close() sends a protected close_notify and ends without error", () => {
    const h = connected();
    h.session.close();
    expect(h.fromClient()).toEqual([{ type: CONTENT.alert, fragment: Uint8Array.of(1, 0), protected: true }]);
    expect(h.ended).toEqual([{}]);
    h.session.write(Buffer.from("dropped"));
    expect(h.sentBytes().length).toBe(0);
  });

  test("the server's close_notify is answered and ends without error", () => {
    const h = connected();
    h.session.receive(h.server.records.encode(CONTENT.alert, encodeAlert(ALERT.close_notify)));
    expect(h.fromClient()).toEqual([{ type: CONTENT.alert, fragment: Uint8Array.of(1, 0), protected: true }]);
    expect(h.ended).toEqual([{}]);
  });

  test("a fatal alert after the handshake ends with that alert", () => {
    const h = connected();
    h.session.receive(h.server.records.encode(CONTENT.alert, encodeAlert(ALERT.internal_error)));
    expect(h.ended[0]?.error?.message).toBe("server sent alert internal_error (80)");
  });

  test("a change_cipher_spec after the handshake is unexpected_message", () => {
    const h = connected();
    h.session.receive(RecordLayer.changeCipherSpec());
    expect((h.ended[0]?.error as TlsFailure).alert).toBe(ALERT.unexpected_message);
  });
});

describe("record-layer rules after keys are set (RFC 8446 §5, §5.1, §6)", () => {
  /** The last alert the client sent, decrypted by the server. */
  const sentAlert = (h: Harness): Record | undefined => h.fromClient().find((record) => record.type === CONTENT.alert);

  test("a plaintext close_notify after the handshake is unexpected_message, not a clean close", () => {
    const h = connected();
    h.session.receive(new RecordLayer().encode(CONTENT.alert, encodeAlert(ALERT.close_notify)));
    expect(sentAlert(h)).toEqual({ type: CONTENT.alert, fragment: Uint8Array.of(2, ALERT.unexpected_message), protected: true });
    expect((h.ended[0]?.error as TlsFailure).alert).toBe(ALERT.unexpected_message);
  });

  test("a plaintext fatal alert after the ServerHello is not taken as the server's alert", () => {
    const h = harness();
    h.session.start();
    h.server.receiveClientHello(h.fromClient()[0]!.fragment);
    const hello = new RecordLayer().encode(CONTENT.handshake, h.server.serverHello());
    h.server.records.setReadKeys(h.server.suite, h.server.clientHandshakeSecret);
    h.session.receive(concatBytes([hello, new RecordLayer().encode(CONTENT.alert, encodeAlert(ALERT.illegal_parameter))]));
    expect(h.ended[0]?.error).toBeInstanceOf(TlsFailure);
    expect((h.ended[0]?.error as TlsFailure).alert).toBe(ALERT.unexpected_message);
    expect(sentAlert(h)?.protected).toBe(true);
  });

  test("an empty handshake record is unexpected_message", () => {
    const h = harness();
    h.session.start();
    h.sentBytes();
    h.session.receive(Uint8Array.of(CONTENT.handshake, 3, 3, 0, 0));
    expect((h.ended[0]?.error as TlsFailure).alert).toBe(ALERT.unexpected_message);
  });

  test("application data between the fragments of one handshake message is unexpected_message", () => {
    const h = connected();
    const update = h.server.keyUpdate(false);
    h.session.receive(h.server.records.encode(CONTENT.handshake, update.subarray(0, 2)));
    h.session.receive(h.server.records.encode(CONTENT.application_data, Buffer.from("between")));
    expect((h.ended[0]?.error as TlsFailure).alert).toBe(ALERT.unexpected_message);
    expect(h.data).toEqual([]);
  });

  test("change_cipher_spec records during the handshake are capped at 32", () => {
    const h = harness();
    h.session.start();
    h.sentBytes();
    const ccs = RecordLayer.changeCipherSpec();
    h.session.receive(concatBytes(Array.from({ length: 32 }, () => ccs)));
    expect(h.ended).toEqual([]);
    h.session.receive(ccs);
    expect((h.ended[0]?.error as TlsFailure).alert).toBe(ALERT.unexpected_message);
  });

  test("empty application data records are capped at 32 in a row; data in between resets the count", () => {
    const h = connected();
    const empty = (): Uint8Array => h.server.records.encode(CONTENT.application_data, new Uint8Array(0));
    for (let round = 0; round < 3; round++) {
      h.session.receive(concatBytes(Array.from({ length: 32 }, empty)));
      h.session.receive(h.server.records.encode(CONTENT.application_data, Buffer.from("x")));
    }
    expect(h.ended).toEqual([]);
    h.session.receive(concatBytes(Array.from({ length: 33 }, empty)));
    expect((h.ended[0]?.error as TlsFailure).alert).toBe(ALERT.unexpected_message);
  });
});

describe("key material", () => {
  test("the session wipes its copy of the PSK once the ClientHello is out, and every key when it ends", () => {
    const key = KEY.slice();
    const session = new PskClientSession({ ...CONFIG, key }, { send() {}, onEstablished() {}, onData() {}, onEnd() {} });
    session.start();
    expect(key.every((byte) => byte === 0)).toBe(true);
    expect(KEY.some((byte) => byte !== 0)).toBe(true);
  });
});

describe("robustness", () => {
  test("mutated server flights never throw: the session either completes or ends with a typed error", () => {
    let seed = 0x2545f491;
    const next = (): number => {
      seed ^= seed << 13;
      seed ^= seed >>> 17;
      seed ^= seed << 5;
      return (seed >>> 0) / 2 ** 32;
    };
    let failures = 0;
    for (let round = 0; round < 150; round++) {
      const h = harness();
      h.session.start();
      h.server.receiveClientHello(h.fromClient()[0]!.fragment);
      const flight = h.server.flight();
      const mutated = flight.slice();
      const flips = 1 + Math.floor(next() * 4);
      for (let flip = 0; flip < flips; flip++) mutated[Math.floor(next() * mutated.length)]! ^= 1 << Math.floor(next() * 8);
      const cut = next() < 0.2 ? Math.floor(next() * mutated.length) : mutated.length;
      expect(() => h.session.receive(mutated.subarray(0, cut))).not.toThrow();
      const error = h.ended[0]?.error;
      if (error) {
        failures++;
        expect(error instanceof TlsFailure || error instanceof PeerAlert).toBe(true);
      }
    }
    expect(failures).toBeGreaterThan(100);
  });
});
