import { afterEach, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, statSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Secret } from "../common/secret";
import {
  AuthenAction,
  AuthenService,
  AuthenStatus,
  AuthenType,
  decodePacket,
  encodeAuthenReply,
  encodeAuthenStart,
  encodePacket,
  PacketType,
} from "../protocol";
import { LegacyConnection, papLogin } from "../../test/support/legacy-client";
import { BurstCounter } from "./listener";
import { recordingLogger, ScriptedEngine } from "./test-support";
import { ProxyConfigError, startProxy, type ProxyOptions, type ProxyServer } from ".";

const KEY = Secret.fromText("labkey123");
const pass = () => ({ body: encodeAuthenReply({ status: AuthenStatus.Pass, flags: 0, serverMsg: "", data: new Uint8Array() }) });

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function start(overrides: Partial<ProxyOptions> = {}) {
  const engine = new ScriptedEngine();
  const { logger, lines } = recordingLogger();
  const proxy: ProxyServer = await startProxy({
    endpoint: { kind: "tcp", host: "127.0.0.1", port: 0 },
    socketMode: 0o660,
    engine,
    proxySharedSecret: () => undefined,
    serverSecrets: () => [KEY],
    limits: { maxProxyConnections: 8, proxyIdleTimeoutMs: 2000, maxBodyBytes: 65536 },
    logger,
    ...overrides,
  });
  cleanups.push(() => proxy.close(0));
  return { engine, proxy, lines };
}

describe("endpoints", () => {
  test.each(["0.0.0.0", "192.0.2.1", "::", "localhost"])("a non-loopback TCP address (%s) is refused with a clear error", async (host) => {
    const attempt = start({ endpoint: { kind: "tcp", host, port: 0 } });
    await expect(attempt).rejects.toBeInstanceOf(ProxyConfigError);
    await expect(attempt).rejects.toThrow(/loopback/);
  });

  test("loopback TCP on ::1 serves a PAP login and reports its bound port", async () => {
    const { engine, proxy } = await start({ endpoint: { kind: "tcp", host: "::1", port: 0 } });
    expect(proxy.endpoint.kind === "tcp" && proxy.endpoint.port > 0).toBe(true);
    engine.answer(pass());
    const result = await papLogin({ endpoint: proxy.endpoint, key: KEY.reveal() }, "alice", "alicepw");
    expect(result.last.status).toBe(AuthenStatus.Pass);
    expect(result.closedAfter).toBe(true);
  });

  test("a Unix socket gets --socket-mode and is removed on close", async () => {
    const dir = mkdtempSync(join(tmpdir(), "proxy-test-"));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const path = join(dir, "run", "proxy.sock");
    const { engine, proxy } = await start({ endpoint: { kind: "unix", path }, socketMode: 0o600 });
    expect(statSync(path).mode & 0o777).toBe(0o600);
    engine.answer(pass());
    const result = await papLogin({ endpoint: { kind: "unix", path }, key: KEY.reveal() }, "alice", "alicepw");
    expect(result.last.status).toBe(AuthenStatus.Pass);
    await proxy.close(0);
    expect(existsSync(path)).toBe(false);
  });
});

test("a client that half-closes after its request still gets the reply", async () => {
  const { engine, proxy } = await start();
  // The reply comes well after the FIN has arrived.
  engine.answer(Bun.sleep(150).then(pass));
  const connection = await LegacyConnection.open(proxy.endpoint);
  cleanups.push(() => connection.close());
  const start_ = encodeAuthenStart({ action: AuthenAction.Login, privLvl: 1, authenType: AuthenType.Pap, service: AuthenService.Login, user: "alice", port: "", remAddr: "", data: new TextEncoder().encode("pw") });
  connection.write(encodePacket({ version: 0xc1, type: PacketType.Authentication, seqNo: 1, flags: 0, sessionId: 77 }, start_, KEY.reveal()));
  connection.finish();
  const reply = await connection.next(2000);
  if (reply === "closed") throw new Error("closed without a reply");
  expect(decodePacket(reply, KEY.reveal()).header).toMatchObject({ sessionId: 77, seqNo: 2 });
  expect(await connection.closedByPeer(1000)).toBe(true);
});

describe("limits", () => {
  test("beyond maxProxyConnections new connections are closed at once, warned once per burst", async () => {
    const { engine, proxy, lines } = await start({ limits: { maxProxyConnections: 2, proxyIdleTimeoutMs: 2000, maxBodyBytes: 65536 } });
    // Two connections with a request in flight hold their slots.
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    engine.answer(gate.then(() => pass()), gate.then(() => pass()));
    const held = [papLogin({ endpoint: proxy.endpoint, key: KEY.reveal() }, "alice", "alicepw"), papLogin({ endpoint: proxy.endpoint, key: KEY.reveal() }, "alice", "alicepw")];
    await Bun.sleep(50);
    expect(proxy.connections()).toBe(2);
    const refused = await Promise.all([1, 2, 3].map(() => LegacyConnection.open(proxy.endpoint)));
    for (const connection of refused) expect(await connection.closedByPeer(1000)).toBe(true);
    expect(lines.filter((l) => l.level === "warn")).toHaveLength(1);
    expect(proxy.counters).toMatchObject({ connectionsRefused: 3, connectionsEvicted: 0 });

    release();
    await Promise.all(held);
    await Bun.sleep(50);
    engine.answer(pass());
    const result = await papLogin({ endpoint: proxy.endpoint, key: KEY.reveal() }, "alice", "alicepw");
    expect(result.last.status).toBe(AuthenStatus.Pass);
    expect(lines.filter((l) => l.level === "warn").at(-1)!.text).toContain("refused 3 connection(s)");
  });

  test("at maxProxyConnections the oldest connection without a request makes room; a silent one goes after the first-packet deadline", async () => {
    const { engine, proxy } = await start({ limits: { maxProxyConnections: 2, proxyIdleTimeoutMs: 2000, maxBodyBytes: 65536 } });
    const silent = await LegacyConnection.open(proxy.endpoint);
    const half = await LegacyConnection.open(proxy.endpoint);
    cleanups.push(() => [silent, half].forEach((c) => c.close()));
    half.write(Uint8Array.from([0xc0, 1, 1, 0, 0, 0])); // half a header, then nothing
    await Bun.sleep(50);
    engine.answer(pass());
    const result = await papLogin({ endpoint: proxy.endpoint, key: KEY.reveal() }, "alice", "alicepw");
    expect(result.last.status).toBe(AuthenStatus.Pass);
    expect(await silent.closedByPeer(1000)).toBe(true);
    expect(proxy.counters.connectionsEvicted).toBe(1);
    expect(proxy.counters.connectionsRefused).toBe(0);
  });

  test("BurstCounter: the first refusal of a burst is reported, and the burst size after", () => {
    const burst = new BurstCounter();
    expect([burst.refuse(), burst.refuse(), burst.refuse()]).toEqual([true, false, false]);
    expect(burst.accept()).toBe(3);
    expect(burst.accept()).toBe(0);
    expect(burst.refuse()).toBe(true);
  });

  test("an idle connection is closed after proxyIdleTimeoutMs and no longer counts", async () => {
    const { proxy } = await start({ limits: { maxProxyConnections: 8, proxyIdleTimeoutMs: 150, maxBodyBytes: 65536 } });
    const connection = await LegacyConnection.open(proxy.endpoint);
    cleanups.push(() => connection.close());
    const began = Date.now();
    expect(await connection.closedByPeer(2000)).toBe(true);
    expect(Date.now() - began).toBeGreaterThanOrEqual(100);
    expect(proxy.connections()).toBe(0);
  });
});

describe("close", () => {
  test("waits up to the grace period for a request in flight, then answers it", async () => {
    const { engine, proxy } = await start();
    let release!: (reply: ReturnType<typeof pass>) => void;
    engine.answer(new Promise((resolve) => (release = resolve)));
    const login = papLogin({ endpoint: proxy.endpoint, key: KEY.reveal() }, "alice", "alicepw");
    await Bun.sleep(50);
    const closing = proxy.close(2000);
    setTimeout(() => release(pass()), 50);
    expect((await login).last.status).toBe(AuthenStatus.Pass);
    await closing;
    await expect(LegacyConnection.open(proxy.endpoint, 500)).rejects.toThrow();
  });

  test("after the grace period remaining connections are closed, requests in flight answered ERROR and aborted upstream", async () => {
    const { engine, proxy } = await start();
    engine.answer(new Promise(() => {}));
    const connection = await LegacyConnection.open(proxy.endpoint);
    cleanups.push(() => connection.close());
    const login = papLogin({ endpoint: proxy.endpoint, key: KEY.reveal() }, "alice", "alicepw");
    await Bun.sleep(50);
    expect(engine.starts).toHaveLength(1);
    const began = Date.now();
    await proxy.close(100);
    expect(Date.now() - began).toBeLessThan(1000);
    expect(await connection.closedByPeer(1000)).toBe(true);
    expect(engine.starts[0]!.cancellation?.cancelled).toBe(true);
    expect(proxy.connections()).toBe(0);
    // The request in flight got its one outcome: an ERROR reply, then the close.
    const answered = await login;
    expect(answered.last.status).toBe(AuthenStatus.Error);
    expect(answered.closedAfter).toBe(true);
  });
});
