import { describe, expect, test } from "bun:test";
import { Secret } from "../common/secret";
import {
  AcctStatus,
  AuthenAction,
  AuthenService,
  AuthenStatus,
  AuthenType,
  AuthorStatus,
  decodeAcctReply,
  decodeAuthenReply,
  decodeAuthorReply,
  decodePacket,
  encodeAcctReply,
  encodeAcctRequest,
  encodeAuthenContinue,
  encodeAuthenReply,
  encodeAuthenStart,
  encodeAuthorReply,
  encodeAuthorRequest,
  encodePacket,
  Flags,
  AuthenMethod,
  PacketType,
  AcctFlags,
  type Packet,
} from "../protocol";
import { ManualClock } from "../upstream/manual-clock";
import { UpstreamError } from "../upstream/types";
import { newEntryPointMetrics } from "../common/request-metrics";
import { ConnectionBridge, downstreamFlags, NO_UPSTREAM_MESSAGE, type DownstreamPeer } from "./connection-bridge";
import type { KeySource } from "./downstream-keys";
import { recordingLogger, ScriptedEngine } from "./test-support";

const KEY = Secret.fromText("labkey123");
const OTHER = Secret.fromText("otherkey");
const SESSION = 0x01020304;
const IDLE_MS = 5000;
const text = new TextEncoder();

class FakePeer implements DownstreamPeer {
  readonly remote = "test";
  readonly written: Uint8Array[] = [];
  closed = false;
  write(bytes: Uint8Array): void {
    this.written.push(bytes);
  }
  close(): void {
    this.closed = true;
  }
  /** Every reply, decoded with `key` (undefined: must be unencrypted). */
  replies(key: Secret | undefined = KEY): Packet[] {
    return this.written.map((frame) => decodePacket(frame, key?.reveal()));
  }
}

function setUp(keys: Partial<KeySource> = {}) {
  const engine = new ScriptedEngine();
  const peer = new FakePeer();
  const clock = new ManualClock();
  const { logger, lines } = recordingLogger();
  const metrics = newEntryPointMetrics();
  const keySource: KeySource = { proxySharedSecret: () => undefined, serverSecrets: () => [KEY], activeServer: () => engine.activeServer, ...keys };
  const bridge = new ConnectionBridge(peer, { engine, keys: keySource, maxBodyBytes: 65536, idleTimeoutMs: IDLE_MS, logger, clock, metrics });
  return { engine, peer, clock, logger: { lines }, bridge, metrics };
}

/** Lets queued promise callbacks (engine answers) run. */
const settle = () => new Promise((resolve) => setTimeout(resolve, 0));

const papStart = encodeAuthenStart({
  action: AuthenAction.Login,
  privLvl: 1,
  authenType: AuthenType.Pap,
  service: AuthenService.Login,
  user: "alice",
  port: "tty1",
  remAddr: "127.0.0.1",
  data: text.encode("alicepw"),
});
const asciiStart = encodeAuthenStart({ action: AuthenAction.Login, privLvl: 1, authenType: AuthenType.Ascii, service: AuthenService.Login, user: "alice", port: "tty1", remAddr: "", data: new Uint8Array() });
const passwordContinue = encodeAuthenContinue({ flags: 0, userMsg: text.encode("alicepw"), data: new Uint8Array() });
const authorRequest = encodeAuthorRequest({
  authenMethod: AuthenMethod.TacacsPlus,
  privLvl: 1,
  authenType: AuthenType.Ascii,
  authenService: AuthenService.Login,
  user: "alice",
  port: "tty1",
  remAddr: "",
  args: [{ name: "service", value: "shell", mandatory: true }, { name: "cmd", value: "show", mandatory: true }],
});
const acctRequest = encodeAcctRequest({ ...{ flags: AcctFlags.Start, authenMethod: AuthenMethod.TacacsPlus, privLvl: 1, authenType: AuthenType.Ascii, authenService: AuthenService.Login, user: "alice", port: "tty1", remAddr: "" }, args: [{ name: "task_id", value: "7", mandatory: true }] });

const authenReply = (status: AuthenStatus, serverMsg = "") => encodeAuthenReply({ status, flags: 0, serverMsg, data: new Uint8Array() });

/** `key` null sends the packet unencrypted. */
function frame(type: PacketType, seqNo: number, body: Uint8Array, key: Secret | null = KEY, sessionId = SESSION, version = 0xc0): Uint8Array {
  return encodePacket({ version, type, seqNo, flags: key ? 0 : Flags.Unencrypted, sessionId }, body, key?.reveal());
}

describe("forwarding", () => {
  test("PAP login: body forwarded unchanged, reply rewritten to the downstream session id and seq_no 2, then closed", async () => {
    const { engine, peer, bridge } = setUp();
    engine.answer({ body: authenReply(AuthenStatus.Pass, "welcome"), version: 0xc1 });
    bridge.onData(frame(PacketType.Authentication, 1, papStart, KEY, SESSION, 0xc1));
    await settle();
    expect(engine.starts).toHaveLength(1);
    expect(engine.starts[0]).toMatchObject({ type: PacketType.Authentication, version: 0xc1, resendable: true });
    expect(engine.starts[0]!.body).toEqual(papStart);
    const [reply] = peer.replies();
    expect(reply!.header).toMatchObject({ sessionId: SESSION, seqNo: 2, type: PacketType.Authentication, version: 0xc1, flags: 0 });
    expect(decodeAuthenReply(reply!.body)).toMatchObject({ status: AuthenStatus.Pass, serverMsg: "welcome" });
    expect(peer.closed).toBe(true);
    expect(engine.ended).toBe(1);
    expect(bridge.state).toEqual({ name: "Closed", reason: "done" });
  });

  test("ASCII login across GETPASS: CONTINUE forwarded, seq_no 3 → 4, closed on PASS; counted once, as pass", async () => {
    const { engine, peer, bridge, metrics } = setUp();
    engine.answer({ body: authenReply(AuthenStatus.GetPass, "Password: ") }, { body: authenReply(AuthenStatus.Pass) });
    bridge.onData(frame(PacketType.Authentication, 1, asciiStart));
    await settle();
    expect(peer.closed).toBe(false);
    expect(peer.replies()[0]!.header.seqNo).toBe(2);
    bridge.onData(frame(PacketType.Authentication, 3, passwordContinue));
    await settle();
    expect(engine.continues).toEqual([passwordContinue]);
    const replies = peer.replies();
    expect(replies.map((r) => [r.header.seqNo, r.header.sessionId, decodeAuthenReply(r.body).status])).toEqual([
      [2, SESSION, AuthenStatus.GetPass],
      [4, SESSION, AuthenStatus.Pass],
    ]);
    expect(peer.closed).toBe(true);
    expect(engine.ended).toBe(1);
    expect(metrics.authentication).toMatchObject({ pass: 1, fail: 0, error: 0, inFlight: 0 });
    expect(metrics.authentication.latency.count).toBe(1);
  });

  test("the plaintext bodies carrying a password (PAP START, ASCII CONTINUE) are wiped once answered", async () => {
    const pap = setUp();
    pap.engine.answer({ body: authenReply(AuthenStatus.Pass) });
    pap.bridge.onData(frame(PacketType.Authentication, 1, papStart));
    await settle();
    expect(pap.engine.starts[0]!.body).toEqual(papStart);
    expect(pap.engine.handedOver[0]!.every((byte) => byte === 0)).toBe(true);

    const ascii = setUp();
    ascii.engine.answer({ body: authenReply(AuthenStatus.GetPass, "Password: ") }, { body: authenReply(AuthenStatus.Pass) });
    ascii.bridge.onData(frame(PacketType.Authentication, 1, asciiStart));
    await settle();
    ascii.bridge.onData(frame(PacketType.Authentication, 3, passwordContinue));
    await settle();
    expect(ascii.engine.continues).toEqual([passwordContinue]);
    expect(ascii.engine.handedOver[1]!.every((byte) => byte === 0)).toBe(true);
  });

  test("authorization closes after one reply; the reply args are forwarded unchanged", async () => {
    const { engine, peer, bridge } = setUp();
    const body = encodeAuthorReply({ status: AuthorStatus.PassAdd, args: [{ name: "priv-lvl", value: "15", mandatory: true }], serverMsg: "", data: "" });
    engine.answer({ body });
    bridge.onData(frame(PacketType.Authorization, 1, authorRequest));
    await settle();
    expect(peer.replies()[0]!.body).toEqual(body);
    expect(decodeAuthorReply(peer.replies()[0]!.body).status).toBe(AuthorStatus.PassAdd);
    expect(peer.closed).toBe(true);
  });

  test("accounting is sent non-resendable and the upstream acknowledgement is forwarded", async () => {
    const { engine, peer, bridge } = setUp();
    engine.answer({ body: encodeAcctReply({ status: AcctStatus.Success, serverMsg: "", data: "" }) });
    bridge.onData(frame(PacketType.Accounting, 1, acctRequest));
    await settle();
    expect(engine.starts[0]!.resendable).toBe(false);
    expect(decodeAcctReply(peer.replies()[0]!.body).status).toBe(AcctStatus.Success);
    expect(peer.closed).toBe(true);
  });

  test("a TLS upstream reply (UNENCRYPTED | SINGLE_CONNECT) goes downstream obfuscated with the client's key, flags 0", async () => {
    const { engine, peer, bridge } = setUp();
    engine.overTls = true;
    engine.answer({ body: authenReply(AuthenStatus.Fail), flags: Flags.Unencrypted | Flags.SingleConnect });
    bridge.onData(frame(PacketType.Authentication, 1, papStart));
    await settle();
    expect(peer.written[0]![3]).toBe(0);
    expect(decodeAuthenReply(peer.replies(KEY)[0]!.body).status).toBe(AuthenStatus.Fail);
  });

  test("downstreamFlags never advertises single-connect", () => {
    expect(downstreamFlags(Flags.SingleConnect, KEY)).toBe(0);
    expect(downstreamFlags(Flags.SingleConnect | Flags.Unencrypted, undefined)).toBe(Flags.Unencrypted);
    expect(downstreamFlags(0, undefined)).toBe(Flags.Unencrypted);
  });

  test("frames split across chunks byte by byte are reassembled", async () => {
    const { engine, peer, bridge } = setUp();
    engine.answer({ body: authenReply(AuthenStatus.Pass) });
    for (const byte of frame(PacketType.Authentication, 1, papStart)) bridge.onData(Uint8Array.of(byte));
    await settle();
    expect(engine.starts).toHaveLength(1);
    expect(peer.closed).toBe(true);
  });
});

describe("no upstream", () => {
  test.each([
    [PacketType.Authentication, papStart, (b: Uint8Array) => decodeAuthenReply(b).status, AuthenStatus.Error],
    [PacketType.Authorization, authorRequest, (b: Uint8Array) => decodeAuthorReply(b).status, AuthorStatus.Error],
    [PacketType.Accounting, acctRequest, (b: Uint8Array) => decodeAcctReply(b).status, AcctStatus.Error],
  ])("type %d: a well-formed ERROR of the same type, same session id, seq_no 2, then close", async (type, body, status, error) => {
    const { engine, peer, bridge, logger } = setUp();
    engine.answer(new UpstreamError("all servers failed", "fake", true, "exhausted"));
    bridge.onData(frame(type, 1, body));
    await settle();
    const [reply] = peer.replies();
    expect(reply!.header).toMatchObject({ type, sessionId: SESSION, seqNo: 2 });
    expect(status(reply!.body)).toBe(error);
    expect(peer.closed).toBe(true);
    expect(logger.lines.some((l) => l.level === "info" && l.text.includes("all servers failed"))).toBe(true);
  });

  test("a CONTINUE the upstream fails on gets an authentication ERROR with seq_no 4; counted unavailable, one abnormal-end line", async () => {
    const { engine, peer, bridge, metrics, logger } = setUp();
    engine.answer({ body: authenReply(AuthenStatus.GetPass) }, new UpstreamError("timeout", "fake", true, "timeout"));
    bridge.onData(frame(PacketType.Authentication, 1, asciiStart));
    await settle();
    bridge.onData(frame(PacketType.Authentication, 3, passwordContinue));
    await settle();
    const last = peer.replies().at(-1)!;
    expect(last.header.seqNo).toBe(4);
    expect(decodeAuthenReply(last.body)).toMatchObject({ status: AuthenStatus.Error, serverMsg: NO_UPSTREAM_MESSAGE });
    expect(engine.ended).toBe(1);
    expect(metrics.authentication).toMatchObject({ pass: 0, unavailable: 1, inFlight: 0 });
    expect(logger.lines.filter((l) => l.text.includes("connection ended abnormally (upstream-failed)"))).toHaveLength(1);
  });

  test("an unparsable upstream reply body becomes an ERROR reply, never a forwarded fragment", async () => {
    const { engine, peer, bridge } = setUp();
    engine.answer({ body: new Uint8Array() });
    bridge.onData(frame(PacketType.Accounting, 1, acctRequest));
    await settle();
    expect(decodeAcctReply(peer.replies()[0]!.body).status).toBe(AcctStatus.Error);
  });
});

describe("sessions and sequence numbers", () => {
  async function challenged() {
    const setup = setUp();
    setup.engine.answer({ body: authenReply(AuthenStatus.GetPass) });
    setup.bridge.onData(frame(PacketType.Authentication, 1, asciiStart));
    await settle();
    return setup;
  }

  test("a CONTINUE with another session id closes and ends the upstream session", async () => {
    const { engine, peer, bridge, logger } = await challenged();
    bridge.onData(frame(PacketType.Authentication, 3, passwordContinue, KEY, SESSION + 1));
    expect(peer.closed).toBe(true);
    expect(engine.continues).toHaveLength(0);
    expect(engine.ended).toBe(1);
    expect(logger.lines.some((l) => l.level === "debug" && l.text.includes("different session id"))).toBe(true);
  });

  test("a CONTINUE with a wrong seq_no closes", async () => {
    const { engine, peer, bridge } = await challenged();
    bridge.onData(frame(PacketType.Authentication, 5, passwordContinue));
    expect(peer.closed).toBe(true);
    expect(engine.continues).toHaveLength(0);
  });

  test("a first packet with seq_no 3 is refused before the engine sees it", () => {
    const { engine, peer, bridge } = setUp();
    bridge.onData(frame(PacketType.Authentication, 3, papStart));
    expect(engine.starts).toHaveLength(0);
    expect(peer.closed).toBe(true);
  });

  test("a second packet sent before the reply closes the connection", async () => {
    const { engine, peer, bridge } = setUp();
    let release!: (answer: { body: Uint8Array }) => void;
    engine.answer(new Promise((resolve) => (release = resolve)));
    const first = frame(PacketType.Authentication, 1, asciiStart);
    const second = frame(PacketType.Authentication, 3, passwordContinue);
    const both = new Uint8Array(first.length + second.length);
    both.set(first);
    both.set(second, first.length);
    bridge.onData(both);
    expect(peer.closed).toBe(true);
    release({ body: authenReply(AuthenStatus.GetPass) });
    await settle();
    expect(peer.written).toHaveLength(0);
    expect(engine.ended).toBe(1);
  });

  test("the client leaving while the upstream works: the abort signal fires and the late session is ended", async () => {
    const { engine, peer, bridge } = setUp();
    let release!: (answer: { body: Uint8Array }) => void;
    engine.answer(new Promise((resolve) => (release = resolve)));
    bridge.onData(frame(PacketType.Authentication, 1, papStart));
    bridge.onPeerClosed();
    expect(engine.starts[0]!.cancellation?.cancelled).toBe(true);
    release({ body: authenReply(AuthenStatus.Pass) });
    await settle();
    expect(peer.written).toHaveLength(0);
    expect(engine.ended).toBe(1);
  });

  test("the upstream deadline is the idle timeout from now", async () => {
    const { engine, clock, bridge } = setUp();
    engine.answer({ body: authenReply(AuthenStatus.Pass) });
    bridge.onData(frame(PacketType.Authentication, 1, papStart));
    expect(engine.starts[0]!.deadline).toBe(clock.now() + IDLE_MS);
  });
});

describe("downstream keys", () => {
  test("with --proxy-shared-secret only that key is accepted, whatever the servers use", async () => {
    const { engine, peer, bridge } = setUp({ proxySharedSecret: () => OTHER, serverSecrets: () => [KEY] });
    engine.answer({ body: authenReply(AuthenStatus.Pass) });
    bridge.onData(frame(PacketType.Authentication, 1, papStart, OTHER));
    await settle();
    expect(decodeAuthenReply(peer.replies(OTHER)[0]!.body).status).toBe(AuthenStatus.Pass);

    const second = setUp({ proxySharedSecret: () => OTHER, serverSecrets: () => [KEY] });
    second.bridge.onData(frame(PacketType.Authentication, 1, papStart, KEY));
    expect(second.engine.starts).toHaveLength(0);
    expect(second.peer.closed).toBe(true);
    expect(second.logger.lines.find((l) => l.level === "debug")!.text).toContain("wrong shared secret?");
  });

  test("servers with different secrets: a client using either is served and answered in its own key", async () => {
    for (const clientKey of [KEY, OTHER]) {
      const { engine, peer, bridge } = setUp({ serverSecrets: () => [KEY, OTHER] });
      engine.answer({ body: authenReply(AuthenStatus.Pass) });
      bridge.onData(frame(PacketType.Authentication, 1, papStart, clientKey));
      await settle();
      expect(engine.starts[0]!.body).toEqual(papStart);
      expect(decodeAuthenReply(peer.replies(clientKey)[0]!.body).status).toBe(AuthenStatus.Pass);
    }
  });

  test("a server without a secret admits unencrypted clients and answers unencrypted", async () => {
    const { engine, peer, bridge } = setUp({ serverSecrets: () => [undefined] });
    engine.answer({ body: authenReply(AuthenStatus.Pass) });
    bridge.onData(frame(PacketType.Authentication, 1, papStart, null));
    await settle();
    expect(peer.written[0]![3]! & Flags.Unencrypted).toBe(Flags.Unencrypted);
    expect(decodeAuthenReply(peer.replies(undefined)[0]!.body).status).toBe(AuthenStatus.Pass);
  });

  test("with no secret anywhere, an obfuscated packet is refused", () => {
    const { engine, peer, bridge, logger } = setUp({ serverSecrets: () => [undefined] });
    bridge.onData(frame(PacketType.Authentication, 1, papStart, KEY));
    expect(engine.starts).toHaveLength(0);
    expect(peer.closed).toBe(true);
    expect(logger.lines[0]!.text).toContain("no shared secret is configured");
  });

  test("with a secret configured, an unencrypted packet is refused", () => {
    const { engine, peer, bridge, logger } = setUp();
    bridge.onData(frame(PacketType.Authentication, 1, papStart, null));
    expect(engine.starts).toHaveLength(0);
    expect(peer.closed).toBe(true);
    expect(logger.lines[0]!.text).toContain("unencrypted packet refused");
  });

  test("log lines never contain the secret", async () => {
    const { bridge, logger } = setUp();
    bridge.onData(frame(PacketType.Authentication, 1, papStart, OTHER));
    expect(logger.lines.length).toBeGreaterThan(0);
    for (const line of logger.lines) expect(line.text).not.toMatch(/labkey123|otherkey/);
  });
});

describe("protection", () => {
  test("a connection that sends nothing is closed after the idle timeout", () => {
    const { peer, clock, bridge } = setUp();
    clock.advance(IDLE_MS - 1);
    expect(peer.closed).toBe(false);
    clock.advance(1);
    expect(peer.closed).toBe(true);
    expect(bridge.state).toEqual({ name: "Closed", reason: "idle-timeout" });
  });

  test("a slow sender trickling a header is closed at the timeout: partial bytes do not extend it", () => {
    const { peer, clock, bridge } = setUp();
    const bytes = frame(PacketType.Authentication, 1, papStart);
    for (let i = 0; i < 10; i++) {
      bridge.onData(bytes.subarray(i, i + 1));
      clock.advance(IDLE_MS / 10);
    }
    expect(peer.closed).toBe(true);
  });

  test("the idle timer is off while the upstream works and re-armed after a challenge", async () => {
    const { engine, peer, clock, bridge } = setUp();
    let release!: (answer: { body: Uint8Array }) => void;
    engine.answer(new Promise((resolve) => (release = resolve)));
    bridge.onData(frame(PacketType.Authentication, 1, asciiStart));
    clock.advance(IDLE_MS * 2);
    expect(peer.closed).toBe(false);
    release({ body: authenReply(AuthenStatus.GetPass) });
    await settle();
    clock.advance(IDLE_MS);
    expect(peer.closed).toBe(true);
    expect(engine.ended).toBe(1);
  });

  test.each([
    ["non-TACACS+ bytes", text.encode("GET / HTTP/1.1\r\nHost: x\r\n\r\n")],
    ["wrong major version", (() => { const f = frame(PacketType.Authentication, 1, papStart); f[0] = 0xd0; return f; })()],
    ["huge length", (() => { const f = frame(PacketType.Authentication, 1, papStart); new DataView(f.buffer).setUint32(8, 0xffffffff); return f; })()],
    ["bad packet type", (() => { const f = frame(PacketType.Authentication, 1, papStart); f[1] = 9; return f; })()],
    ["wrong key", frame(PacketType.Authentication, 1, papStart, OTHER)],
  ])("garbage (%s) closes only this connection: the detail at debug, one abnormal-end line at info (-vv)", (_, bytes) => {
    const { engine, peer, bridge, logger } = setUp();
    bridge.onData(bytes);
    expect(engine.starts).toHaveLength(0);
    expect(peer.closed).toBe(true);
    expect(bridge.state).toEqual({ name: "Closed", reason: "garbage" });
    expect(logger.lines.map((l) => l.level)).toEqual(["debug", "info", "trace"]);
    expect(logger.lines[1]!.text).toContain("connection ended abnormally (garbage)");
  });

  test("a truncated header followed by the client closing just closes", () => {
    const { engine, peer, bridge } = setUp();
    bridge.onData(new Uint8Array([0xc0, 1, 1]));
    bridge.onPeerClosed();
    expect(engine.starts).toHaveLength(0);
    expect(bridge.state).toEqual({ name: "Closed", reason: "peer-closed" });
    expect(peer.written).toHaveLength(0);
  });

  test("a body beyond maxBodyBytes is refused from its header", () => {
    const engine = new ScriptedEngine();
    const peer = new FakePeer();
    const bridge = new ConnectionBridge(peer, {
      engine,
      keys: { proxySharedSecret: () => undefined, serverSecrets: () => [KEY], activeServer: () => 0 },
      maxBodyBytes: 16,
      idleTimeoutMs: IDLE_MS,
      logger: recordingLogger().logger,
      clock: new ManualClock(),
    });
    bridge.onData(frame(PacketType.Authentication, 1, papStart).subarray(0, 12));
    expect(peer.closed).toBe(true);
    expect(engine.starts).toHaveLength(0);
  });

  test("a defect while handling a packet is logged as an error and closes only this connection", () => {
    const { engine, peer, bridge, logger } = setUp({
      serverSecrets: () => {
        throw new Error("defect");
      },
    });
    expect(() => bridge.onData(frame(PacketType.Authentication, 1, papStart))).not.toThrow();
    expect(engine.starts).toHaveLength(0);
    expect(peer.closed).toBe(true);
    expect(bridge.state).toEqual({ name: "Closed", reason: "internal-error" });
    expect(logger.lines[0]).toEqual({ level: "error", text: "proxy test: internal error, closing the connection: defect" });
  });

  test("a defect while sending the final reply still closes and releases the connection", async () => {
    const { engine, peer, bridge, logger } = setUp();
    engine.answer({ body: authenReply(AuthenStatus.Pass), version: 0x1c }); // no TACACS+ major version: encoding throws
    bridge.onData(frame(PacketType.Authentication, 1, papStart));
    await settle();
    expect(peer.closed).toBe(true);
    expect(engine.ended).toBe(1);
    expect(logger.lines.some((l) => l.level === "error")).toBe(true);
    await bridge.done;
  });

  test("shutdown closes a waiting connection and resolves done", async () => {
    const { peer, bridge } = setUp();
    bridge.shutdown();
    await bridge.done;
    expect(peer.closed).toBe(true);
  });
});
