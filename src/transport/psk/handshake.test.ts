/**
 * Every edge of the PSK handshake state machine, driven by a scripted server
 * (test/support/psk-fake-server.ts) with no sockets.
 */
import { describe, expect, test } from "bun:test";
import { FakePskServer, messagesOf } from "../../../test/support/psk-fake-server";
import type { TlsGroup } from "../types";
import { ALERT, TlsFailure } from "./alerts";
import { TLS_AES_256_GCM_SHA384 } from "./cipher-suites";
import { GROUP_CODE, generateKeyShare, type KeyShare } from "./key-exchange";
import { discardReplacedSecrets, startHandshake, transition, updateWriteKeys, type HandshakeDeps, type HandshakeState, type PskHandshakeConfig, type Step } from "./handshake";
import { EXTENSION, HANDSHAKE, encodeHandshake } from "./messages";

const KEY = new Uint8Array(Buffer.from("00112233445566778899aabbccddeeff", "hex"));
const config = (overrides: Partial<PskHandshakeConfig> = {}): PskHandshakeConfig => ({
  identity: new TextEncoder().encode("client1"),
  key: KEY,
  keyExchange: "psk-dhe",
  groups: ["secp384r1", "secp256r1"],
  ...overrides,
});

/** Deterministic randomness; key shares stay real (they must agree with the server's). */
const deps: HandshakeDeps = { randomBytes: (length) => new Uint8Array(length).fill(0x5a), keyShare: generateKeyShare };

function sent(step: Step): Uint8Array {
  const sends = step.actions.filter((action) => action.kind === "send");
  expect(sends.length).toBe(1);
  return (sends[0] as { message: Uint8Array }).message;
}

function failure(run: () => unknown): TlsFailure {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(TlsFailure);
    return error as TlsFailure;
  }
  throw new Error("expected a TlsFailure");
}

/** Runs the client up to the state after ServerHello; returns state and server. */
function afterServerHello(cfg = config(), server = new FakePskServer({ key: KEY })): { state: HandshakeState; server: FakePskServer } {
  const start = startHandshake(cfg, deps);
  server.receiveClientHello(sent(start));
  const [hello] = messagesOf(server.serverHello());
  const step = transition(start.state, hello!, cfg, deps);
  expect(step.state.name).toBe("wait_encrypted_extensions");
  return { state: step.state, server };
}

function connect(cfg = config()): { state: HandshakeState; server: FakePskServer; last: Step } {
  const { state, server } = afterServerHello(cfg);
  const ee = transition(state, messagesOf(server.encryptedExtensions())[0]!, cfg, deps);
  expect(ee.state.name).toBe("wait_finished");
  const last = transition(ee.state, messagesOf(server.finished())[0]!, cfg, deps);
  return { state: last.state, server, last };
}

describe("full handshake", () => {
  test("psk-dhe: ServerHello → EncryptedExtensions → Finished → connected, client Finished verifies", () => {
    const { state, server, last } = connect();
    expect(state.name).toBe("connected");
    expect(last.actions.map((action) => action.kind)).toEqual([
      "read_keys",
      "send_change_cipher_spec",
      "send",
      "write_keys",
      "established",
    ]);
    expect(server.verifyClientFinished(messagesOf(sent(last))[0]!)).toBe(true);
    expect(last.actions.at(-1)).toMatchObject({ kind: "established", keyExchange: "psk-dhe", group: "secp384r1" });
    const keys = last.actions.filter((action) => action.kind === "read_keys" || action.kind === "write_keys");
    expect(keys.map((action) => Buffer.from((action as { secret: Uint8Array }).secret).toString("hex"))).toEqual([
      Buffer.from(server.serverAppSecret).toString("hex"),
      Buffer.from(server.clientAppSecret).toString("hex"),
    ]);
  });

  test("psk-only: no key share, zero (EC)DHE input", () => {
    const cfg = config({ keyExchange: "psk-only", groups: [] });
    const { state, last } = connect(cfg);
    expect(state.name).toBe("connected");
    expect(last.actions.at(-1)).toEqual({ kind: "established", suite: expect.anything(), keyExchange: "psk-only" });
  });

  test("ServerHello installs the handshake keys both ways", () => {
    const start = startHandshake(config(), deps);
    const server = new FakePskServer({ key: KEY });
    server.receiveClientHello(sent(start));
    const step = transition(start.state, messagesOf(server.serverHello())[0]!, config(), deps);
    expect(step.actions.map((action) => action.kind)).toEqual(["read_keys", "write_keys"]);
  });

  test("a wrong key is visible to the server as a binder mismatch", () => {
    const start = startHandshake(config({ key: new Uint8Array(16).fill(1) }), deps);
    expect(() => new FakePskServer({ key: KEY }).receiveClientHello(sent(start))).toThrow(/binder/);
  });
});

describe("HelloRetryRequest (§4.1.4)", () => {
  function retry(group: TlsGroup | undefined, cookie?: Uint8Array) {
    const cfg = config();
    const server = new FakePskServer({ key: KEY });
    const start = startHandshake(cfg, deps);
    server.receiveClientHello(sent(start));
    const step = () => transition(start.state, messagesOf(server.helloRetryRequest(group, cookie))[0]!, cfg, deps);
    return { cfg, server, step };
  }

  test("a new share for the selected group, binder over message_hash + HRR, then the handshake completes", () => {
    const { cfg, server, step } = retry("secp256r1");
    const second = step();
    expect(second.state.name).toBe("wait_server_hello");
    expect(second.actions[0]).toEqual({ kind: "send_change_cipher_spec" });
    const hello = server.receiveClientHello(sent(second)); // throws unless the binder covers the HRR transcript
    expect([...hello.keyShares.keys()]).toEqual([GROUP_CODE.secp256r1]);
    expect(hello.groups).toEqual([GROUP_CODE.secp384r1, GROUP_CODE.secp256r1]);
    const sh = transition(second.state, messagesOf(server.serverHello())[0]!, cfg, deps);
    const ee = transition(sh.state, messagesOf(server.encryptedExtensions())[0]!, cfg, deps);
    const fin = transition(ee.state, messagesOf(server.finished())[0]!, cfg, deps);
    expect(fin.state.name).toBe("connected");
    // The compatibility change_cipher_spec was already sent after the HRR.
    expect(fin.actions.some((action) => action.kind === "send_change_cipher_spec")).toBe(false);
    expect(server.verifyClientFinished(messagesOf(sent(fin))[0]!)).toBe(true);
  });

  test("a cookie is echoed", () => {
    const { server, step } = retry(undefined, Uint8Array.of(1, 2, 3));
    const hello = server.receiveClientHello(sent(step()));
    expect([...hello.extensions.get(EXTENSION.cookie)!]).toEqual([0, 3, 1, 2, 3]);
  });

  test("a HRR that changes nothing, asks for the group already sent, or for one not offered is illegal", () => {
    expect(failure(retry(undefined).step).alert).toBe(ALERT.illegal_parameter);
    expect(failure(retry("secp384r1").step).reason).toMatch(/already sent/);
    expect(failure(retry("x25519").step).reason).toMatch(/did not offer/);
  });

  test("a second HRR is an unexpected message", () => {
    const { server, step } = retry("secp256r1");
    const second = step();
    server.receiveClientHello(sent(second));
    const again = messagesOf(server.helloRetryRequest("secp384r1"))[0]!;
    expect(failure(() => transition(second.state, again, config(), deps)).alert).toBe(ALERT.unexpected_message);
  });
});

describe("ServerHello validation", () => {
  function serverHelloFailure(overrides: Parameters<FakePskServer["serverHello"]>[0], cfg = config()): TlsFailure {
    const start = startHandshake(cfg, deps);
    const server = new FakePskServer({ key: KEY });
    server.receiveClientHello(sent(start));
    const hello = messagesOf(server.serverHello(overrides))[0]!;
    return failure(() => transition(start.state, hello, cfg, deps));
  }

  test("no pre_shared_key: a certificate handshake is refused with a clear reason", () => {
    const error = serverHelloFailure({ selectedIdentity: null });
    expect(error.alert).toBe(ALERT.handshake_failure);
    expect(error.message).toMatch(/did not accept the PSK.*certificate/);
  });

  test("selected_identity other than 0", () => {
    expect(serverHelloFailure({ selectedIdentity: 1 }).alert).toBe(ALERT.illegal_parameter);
  });

  test("a suite we did not offer, or one whose hash is not the PSK's", () => {
    expect(serverHelloFailure({ cipherSuite: 0x1303 }).reason).toMatch(/did not offer/);
    expect(serverHelloFailure({ cipherSuite: TLS_AES_256_GCM_SHA384.code }).reason).toMatch(/hash/);
  });

  test("session id not echoed", () => {
    expect(serverHelloFailure({ sessionIdEcho: new Uint8Array(32) }).reason).toMatch(/legacy_session_id/);
  });

  test("psk-dhe without a key share, or with another group's", () => {
    expect(serverHelloFailure({ keyShareGroup: null }).reason).toMatch(/psk_ke/);
    expect(serverHelloFailure({ keyShareGroup: "secp256r1" }).reason).toMatch(/group/);
  });

  test("psk-only with a key share", () => {
    const error = serverHelloFailure({ keyShareGroup: "secp256r1" }, config({ keyExchange: "psk-only", groups: [] }));
    expect(error.alert).toBe(ALERT.unsupported_extension);
  });

  test("an extension we never offered", () => {
    expect(serverHelloFailure({ extraExtension: EXTENSION.early_data }).alert).toBe(ALERT.unsupported_extension);
  });

  test("a message other than ServerHello first", () => {
    const start = startHandshake(config(), deps);
    const bogus = { type: HANDSHAKE.encrypted_extensions, body: Uint8Array.of(0, 0), raw: encodeHandshake(8, Uint8Array.of(0, 0)) };
    expect(failure(() => transition(start.state, bogus, config(), deps)).alert).toBe(ALERT.unexpected_message);
  });
});

describe("EncryptedExtensions and Finished", () => {
  test("a Finished before EncryptedExtensions is an unexpected message", () => {
    const { state, server } = afterServerHello();
    const finished = messagesOf(server.finished())[0]!;
    expect(failure(() => transition(state, finished, config(), deps)).alert).toBe(ALERT.unexpected_message);
  });

  test("EncryptedExtensions with a ServerHello-only extension is refused", () => {
    const { state, server } = afterServerHello();
    const ext = new Uint8Array([0, EXTENSION.key_share, 0, 0]);
    const message = messagesOf(server.encryptedExtensions(ext))[0]!;
    expect(failure(() => transition(state, message, config(), deps)).alert).toBe(ALERT.unsupported_extension);
  });

  test("server_name in EncryptedExtensions: only when we sent SNI, and only empty (RFC 6066 §3)", () => {
    const emptySni = new Uint8Array([0, EXTENSION.server_name, 0, 0]);
    const named = config({ serverName: "tacacs.example.com" });
    const accepted = afterServerHello(named);
    const ee = messagesOf(accepted.server.encryptedExtensions(emptySni))[0]!;
    expect(transition(accepted.state, ee, named, deps).state.name).toBe("wait_finished");

    const literal = config({ serverName: "192.0.2.1" });
    const unsent = afterServerHello(literal);
    const unsentEe = messagesOf(unsent.server.encryptedExtensions(emptySni))[0]!;
    expect(failure(() => transition(unsent.state, unsentEe, literal, deps)).alert).toBe(ALERT.unsupported_extension);

    const filled = afterServerHello(named);
    const filledEe = messagesOf(filled.server.encryptedExtensions(new Uint8Array([0, EXTENSION.server_name, 0, 1, 0])))[0]!;
    expect(failure(() => transition(filled.state, filledEe, named, deps)).alert).toBe(ALERT.decode_error);
  });

  test("a Certificate after EncryptedExtensions is refused", () => {
    const { state, server } = afterServerHello();
    const waiting = transition(state, messagesOf(server.encryptedExtensions())[0]!, config(), deps).state;
    const certificate = { type: HANDSHAKE.certificate, body: new Uint8Array(4), raw: encodeHandshake(HANDSHAKE.certificate, new Uint8Array(4)) };
    expect(failure(() => transition(waiting, certificate, config(), deps)).reason).toMatch(/certificate in a PSK handshake/);
  });

  test("a server Finished that does not verify is a decrypt_error", () => {
    const { state, server } = afterServerHello();
    const waiting = transition(state, messagesOf(server.encryptedExtensions())[0]!, config(), deps).state;
    const error = failure(() => transition(waiting, messagesOf(server.finished(true))[0]!, config(), deps));
    expect(error.alert).toBe(ALERT.decrypt_error);
  });
});

describe("after the handshake (§4.6)", () => {
  test("NewSessionTicket is ignored", () => {
    const { state } = connect();
    const ticket = encodeHandshake(HANDSHAKE.new_session_ticket, new Uint8Array(13));
    const step = transition(state, messagesOf(ticket)[0]!, config(), deps);
    expect(step).toEqual({ state, actions: [] });
  });

  test("KeyUpdate without request ratchets the read keys only", () => {
    const { state, server } = connect();
    const step = transition(state, messagesOf(server.keyUpdate(false))[0]!, config(), deps);
    server.ratchetServer();
    expect(step.actions).toEqual([{ kind: "read_keys", suite: expect.anything(), secret: server.serverAppSecret }]);
  });

  test("KeyUpdate with update_requested ratchets the read keys and owes an answer (§4.6.3)", () => {
    const { state, server } = connect();
    const step = transition(state, messagesOf(server.keyUpdate(true))[0]!, config(), deps);
    server.ratchetServer();
    expect(step.actions).toEqual([
      { kind: "read_keys", suite: expect.anything(), secret: server.serverAppSecret },
      { kind: "key_update_owed" },
    ]);
  });

  test("updateWriteKeys sends our KeyUpdate, then the write keys ratchet", () => {
    const { state, server } = connect();
    for (const requested of [false, true]) {
      const step = updateWriteKeys(state, requested);
      server.ratchetClient();
      expect(step.actions).toEqual([
        { kind: "send", message: server.keyUpdate(requested) },
        { kind: "write_keys", suite: expect.anything(), secret: server.clientAppSecret },
      ]);
      server.clientAppSecret = (state as { clientSecret: Uint8Array }).clientSecret;
    }
    expect(() => updateWriteKeys(afterServerHello().state, false)).toThrow(/wait_encrypted_extensions/);
  });

  test("KeyUpdate with a bad value, or another message type, is refused", () => {
    const { state } = connect();
    const bad = messagesOf(encodeHandshake(HANDSHAKE.key_update, Uint8Array.of(2)))[0]!;
    expect(failure(() => transition(state, bad, config(), deps)).alert).toBe(ALERT.illegal_parameter);
    const request = messagesOf(encodeHandshake(HANDSHAKE.certificate_request, new Uint8Array(3)))[0]!;
    expect(failure(() => transition(state, request, config(), deps)).alert).toBe(ALERT.unexpected_message);
  });
});

describe("discardReplacedSecrets (what is wiped when)", () => {
  const zero = (bytes: Uint8Array): boolean => bytes.every((byte) => byte === 0);
  /** Deps whose key shares report their disposal into `disposed`. */
  const disposalSpy = (disposed: string[]): HandshakeDeps => ({
    ...deps,
    keyShare(group): KeyShare {
      const share = generateKeyShare(group);
      return { ...share, dispose: () => (disposed.push(group), share.dispose()) };
    },
  });

  test("early secret and key share after the ServerHello, handshake secrets after Finished, old traffic secret after a KeyUpdate, the rest at the end", () => {
    const disposed: string[] = [];
    const spying = disposalSpy(disposed);
    const cfg = config();
    const server = new FakePskServer({ key: KEY });
    const start = startHandshake(cfg, spying);
    server.receiveClientHello(sent(start));
    const afterHello = transition(start.state, messagesOf(server.serverHello())[0]!, cfg, spying).state;
    discardReplacedSecrets(start.state, afterHello);
    if (start.state.name !== "wait_server_hello" || afterHello.name !== "wait_encrypted_extensions") throw new Error("unexpected states");
    expect(zero(start.state.offer.early)).toBe(true);
    expect(disposed).toEqual(["secp384r1"]);
    expect(zero(afterHello.keys.handshakeSecret)).toBe(false);

    const waiting = transition(afterHello, messagesOf(server.encryptedExtensions())[0]!, cfg, spying).state;
    discardReplacedSecrets(afterHello, waiting);
    expect(zero(afterHello.keys.clientSecret)).toBe(false); // still the handshake's
    const done = transition(waiting, messagesOf(server.finished())[0]!, cfg, spying).state;
    discardReplacedSecrets(waiting, done);
    if (waiting.name !== "wait_finished" || done.name !== "connected") throw new Error("unexpected states");
    expect([waiting.keys.handshakeSecret, waiting.keys.clientSecret, waiting.keys.serverSecret].every(zero)).toBe(true);
    expect(Buffer.from(done.clientSecret)).toEqual(Buffer.from(server.clientAppSecret));

    const updated = transition(done, messagesOf(server.keyUpdate(false))[0]!, cfg, spying).state;
    discardReplacedSecrets(done, updated);
    if (updated.name !== "connected") throw new Error("unexpected state");
    expect(zero(done.serverSecret)).toBe(true);
    expect(zero(updated.clientSecret)).toBe(false); // the same array, still in use
    discardReplacedSecrets(updated, undefined);
    expect(zero(updated.clientSecret) && zero(updated.serverSecret)).toBe(true);
    expect(disposed).toEqual(["secp384r1"]);
  });

  test("a HelloRetryRequest disposes of the share it replaced", () => {
    const disposed: string[] = [];
    const spying = disposalSpy(disposed);
    const server = new FakePskServer({ key: KEY });
    const start = startHandshake(config(), spying);
    server.receiveClientHello(sent(start));
    const retried = transition(start.state, messagesOf(server.helloRetryRequest("secp256r1"))[0]!, config(), spying).state;
    discardReplacedSecrets(start.state, retried);
    expect(disposed).toEqual(["secp384r1"]);
    if (retried.name !== "wait_server_hello") throw new Error("unexpected state");
    expect(retried.offer.early.some((byte) => byte !== 0)).toBe(true); // the retry still needs it
  });
});
