/** The engine over TLS (RFC 9887): unobfuscated packets, replies must carry the unencrypted flag (loopback). */
import { afterEach, beforeAll, expect, test } from "bun:test";
import { AuthorStatus } from "../../src/protocol";
import type { TlsSecurity } from "../../src/transport/tls";
import type { UpstreamServer } from "../../src/upstream";
import { testPki, type Pki } from "../support/pki";
import { authorization, authorStatus, capturingLogger, engine, KEY, server, stopAll, upstream } from "./helpers";

let pki: Pki;
// Generating the test PKI with openssl takes a few seconds, once per test process.
beforeAll(async () => {
  pki = await testPki();
}, 30_000);
afterEach(stopAll);

async function tlsSetup(faults = {}) {
  const ts = await server({ tls: { cert: pki.server.certPem, key: pki.server.keyPem }, faults });
  const security: TlsSecurity = { kind: "tls", caPem: [pki.ca.certPem], useSystemCa: false, verifyServer: true, serverName: "localhost" };
  // The shared secret stays configured: inside TLS it must not be used (RFC 9887 §4).
  const secure: UpstreamServer = { ...upstream(ts, "secure"), security };
  const log = capturingLogger();
  const agent = engine([secure], { connectTimeoutMs: 2000 }, log);
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
