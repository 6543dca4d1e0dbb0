/** The engine over TLS (RFC 9887): unobfuscated packets, replies must carry the unencrypted flag (loopback). */
import { afterEach, beforeAll, expect, test } from "bun:test";
import { AuthorStatus } from "../../src/protocol";
import type { TlsSecurity } from "../../src/transport/tls";
import type { UpstreamServer } from "../../src/upstream";
import { testPki, type Pki } from "../support/pki";
import { authorization, authorStatus, capturingLogger, engine, KEY, server, stopAll, until, upstream } from "./helpers";

let pki: Pki;
// Generating the test PKI with openssl takes a few seconds, once per test process.
beforeAll(async () => {
  pki = await testPki();
}, 30_000);
afterEach(stopAll);

/** The test CA's trust, SNI localhost: what every TLS upstream here uses. */
const trustTestCa = (): TlsSecurity => ({ kind: "tls", caPem: [pki.ca.certPem], useSystemCa: false, verifyServer: true, serverName: "localhost" });

/** A TLS test server and the engine's entry for it. The shared secret stays configured: inside TLS it must not be used (RFC 9887 §4). */
async function tlsServer(name: string, faults = {}): Promise<{ ts: Awaited<ReturnType<typeof server>>; entry: UpstreamServer }> {
  const ts = await server({ tls: { cert: pki.server.certPem, key: pki.server.keyPem }, faults });
  return { ts, entry: { ...upstream(ts, name), security: trustTestCa() } };
}

async function tlsSetup(faults = {}) {
  const { ts, entry } = await tlsServer("secure", faults);
  const log = capturingLogger();
  const agent = engine([entry], { connectTimeoutMs: 2000 }, log);
  return { ts, agent, log };
}

test("over TLS requests travel unobfuscated and sessions share one connection", async () => {
  const { ts, agent } = await tlsSetup();
  const sessions = await Promise.all(Array.from({ length: 20 }, () => agent.start(authorization())));
  expect(sessions.map(authorStatus).every((s) => s === AuthorStatus.PassAdd)).toBe(true);
  expect(sessions[0]!.overTls).toBe(true);
  expect(ts.counters.connectionsAccepted).toBe(1);
  expect(ts.counters.protocolErrors).toBe(0);
});

test("a reply without the unencrypted flag over TLS closes the connection with a logged error", async () => {
  const { agent, log } = await tlsSetup({ wrongKey: true });
  const error = await agent.start(authorization()).then(
    () => undefined,
    (e: unknown) => e as Error,
  );
  expect(error?.message).toContain("TAC_PLUS_UNENCRYPTED_FLAG");
  expect(log.lines.some((l) => l.startsWith("warn") && l.includes("secure") && l.includes("TAC_PLUS_UNENCRYPTED_FLAG"))).toBe(true);
  expect(log.lines.join("\n")).not.toContain(KEY);
  expect(agent.status().servers[0]!.counters.connectionAborts).toBe(1);
});

test("failover over TLS: a refusing, then a killed preferred server; strictly in order", async () => {
  const [down, preferred, backup] = await Promise.all([tlsServer("down", { refuse: true }), tlsServer("preferred"), tlsServer("backup")]);
  const agent = engine([down.entry, preferred.entry, backup.entry]);
  expect((await agent.start(authorization())).server).toBe("preferred");
  expect(backup.ts.counters.connectionsAccepted).toBe(0);
  await preferred.ts.stop();
  const session = await agent.start(authorization());
  expect(session.server).toBe("backup");
  expect(authorStatus(session)).toBe(AuthorStatus.PassAdd);
  expect(session.overTls).toBe(true);
});

test("failover over TLS: a black-holed preferred server times out within the caller's deadline", async () => {
  const [hole, backup] = await Promise.all([tlsServer("hole", { blackHole: true }), tlsServer("backup")]);
  const agent = engine([{ ...hole.entry, timeoutMs: 150 }, backup.entry]);
  const started = Date.now();
  expect((await agent.start(authorization("version", 2000))).server).toBe("backup");
  expect(Date.now() - started).toBeLessThan(1500);
  expect(agent.status().servers[0]!.counters.connectionTimeouts).toBe(1);
});

test("over TLS, 200 concurrent requests on a fresh engine cost exactly one TLS handshake", async () => {
  const only = await tlsServer("only");
  const agent = engine([only.entry]);
  const sessions = await Promise.all(Array.from({ length: 200 }, () => agent.start(authorization("version", 10_000))));
  expect(sessions.every((s) => authorStatus(s) === AuthorStatus.PassAdd)).toBe(true);
  expect(only.ts.counters.connectionsAccepted).toBe(1);
});

test("over TLS, a probe (a completed TLS handshake) brings traffic back to the recovered preferred server", async () => {
  const [preferred, backup] = await Promise.all([tlsServer("preferred", { refuse: true }), tlsServer("backup")]);
  const agent = engine([preferred.entry, backup.entry], { probeIntervalMs: 50 });
  expect((await agent.start(authorization())).server).toBe("backup");
  preferred.ts.setFaults({ refuse: false });
  await until(() => agent.status().state === "PreferredActive", 3000);
  expect((await agent.start(authorization())).server).toBe("preferred");
  expect(preferred.ts.counters.connectionsAccepted).toBe(1);
});

test("over TLS, an untrusted server certificate is a connect failure: the backup answers", async () => {
  const untrusted = await server({ tls: { cert: pki.untrustedServer.certPem, key: pki.untrustedServer.keyPem } });
  const backup = await tlsServer("backup");
  const log = capturingLogger();
  const agent = engine([{ ...upstream(untrusted, "untrusted"), security: trustTestCa() }, backup.entry], {}, log);
  expect((await agent.start(authorization())).server).toBe("backup");
  expect(agent.status().servers[0]!.counters.connectionFailures).toBe(1);
  expect(agent.status().servers[0]!.tlsHandshakeFailures).toMatchObject({ certificate_untrusted: 1, other: 0 });
  expect(log.lines.some((line) => line.startsWith("warn") && line.includes("untrusted"))).toBe(true);
});
