/**
 * TACACS+ over TLS 1.3 external PSK end to end: the upstream engine with the PSK connector, stunnel4
 * (OpenSSL) terminating TLS with PSKsecrets, and the test TACACS+ server behind it, which requires
 * the unencrypted flag as RFC 9887 §4 demands inside TLS. Authorization and accounting, psk-dhe and
 * psk-only, text and hex keys, and a wrong key.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { AcctStatus, AuthorStatus } from "../../src/protocol";
import { Secret } from "../../src/common/secret";
import { createPskConnector, type PskSecurity } from "../../src/transport/psk/connector";
import { parsePskKey } from "../../src/transport/psk/key-material";
import { tcpConnector } from "../../src/transport/tcp";
import { createEngine } from "../../src/upstream/engine";
import { UpstreamError, type UpstreamEngine, type UpstreamServer } from "../../src/upstream/types";
import { havePeer } from "../support/peer";
import { startStunnel, type Stunnel } from "../support/stunnel";
import { startTacacsServer, type TestServer } from "../support/tacacs-server";
import { accounting, acctStatus, authorization, authorStatus, capturingLogger } from "../upstream/helpers";

const IDENTITY = "host01@example.com";
const TEXT_KEY = "lab-psk-not-hex-0123456789";
const HEX_KEY = "7d1f3a9c5e2b4d6f8091a2b3c4d5e6f7";
const available = havePeer("stunnel4");

const cleanup: (() => unknown)[] = [];
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step();
});

async function stack(options: { stunnelKey: string; allowNoDhe?: boolean }): Promise<{ ts: TestServer; tunnel: Stunnel }> {
  // No shared secret: the server accepts only unobfuscated packets with the unencrypted flag.
  const ts = await startTacacsServer({});
  cleanup.push(() => ts.stop());
  const tunnel = await startStunnel({
    connect: ts.port,
    files: { "psk.txt": `${IDENTITY}:${options.stunnelKey}\n` },
    service: {
      PSKsecrets: "{dir}/psk.txt",
      ciphersuites: "TLS_AES_128_GCM_SHA256",
      ...(options.allowNoDhe ? { options: "ALLOW_NO_DHE_KEX" } : {}),
    },
  });
  cleanup.push(() => tunnel.stop());
  return { ts, tunnel };
}

function pskEngine(tunnel: Stunnel, security: Partial<PskSecurity> & { key: Secret }): { engine: UpstreamEngine; log: ReturnType<typeof capturingLogger> } {
  const psk: PskSecurity = { kind: "psk", identity: new TextEncoder().encode(IDENTITY), keyExchange: "psk-dhe", groups: ["secp384r1", "secp256r1"], ...security };
  const server: UpstreamServer = { name: "psk-upstream", host: tunnel.host, port: tunnel.port, security: psk, singleConnection: true, timeoutMs: 2_000 };
  const log = capturingLogger();
  const engine = createEngine(
    { servers: [server], connectTimeoutMs: 3_000, probeIntervalMs: 60_000, maxSessionsInFlight: 100 },
    { connectorFor: (s) => (s.kind === "psk" ? createPskConnector(s, { log }) : tcpConnector), logger: log },
  );
  cleanup.push(() => engine.close());
  return { engine, log };
}

describe.skipIf(!available)("stunnel4 PSKsecrets in front of the TACACS+ server", () => {
  test("psk-dhe, text key: authorization and accounting end to end, multiplexed on one connection", async () => {
    const { ts, tunnel } = await stack({ stunnelKey: TEXT_KEY });
    const { engine } = pskEngine(tunnel, { key: new Secret(parsePskKey(TEXT_KEY)) });
    const authorizations = await Promise.all(Array.from({ length: 16 }, () => engine.start(authorization())));
    expect(authorizations.map(authorStatus)).toEqual(Array(16).fill(AuthorStatus.PassAdd));
    expect(authorizations[0]!.overTls).toBe(true);
    const record = await engine.start(accounting("psk-task-1"));
    expect(acctStatus(record)).toBe(AcctStatus.Success);
    for (const session of [...authorizations, record]) session.end();
    expect(ts.counters.connectionsAccepted).toBe(1);
    expect(ts.counters.protocolErrors).toBe(0);
  });

  test("psk-dhe, hex key: stunnel's hex key and our 'hex:' rule agree", async () => {
    const { tunnel } = await stack({ stunnelKey: HEX_KEY });
    const { engine } = pskEngine(tunnel, { key: new Secret(parsePskKey(`hex:${HEX_KEY}`)), groups: ["secp256r1"] });
    const session = await engine.start(authorization());
    expect(authorStatus(session)).toBe(AuthorStatus.PassAdd);
    session.end();
  });

  test("psk-only with ALLOW_NO_DHE_KEX: accounting end to end", async () => {
    const { ts, tunnel } = await stack({ stunnelKey: TEXT_KEY, allowNoDhe: true });
    const { engine, log } = pskEngine(tunnel, { key: new Secret(parsePskKey(TEXT_KEY)), keyExchange: "psk-only", groups: [] });
    const record = await engine.start(accounting("psk-only-task"));
    expect(acctStatus(record)).toBe(AcctStatus.Success);
    record.end();
    expect(ts.records.length).toBe(1);
    expect(log.lines.join("\n")).toContain("TLS_AES_128_GCM_SHA256, psk-only");
  });

  test("a wrong key fails the request with the alert named and the key nowhere in the logs", async () => {
    const { ts, tunnel } = await stack({ stunnelKey: TEXT_KEY });
    const wrong = "some-other-psk-0123456789";
    const { engine, log } = pskEngine(tunnel, { key: new Secret(parsePskKey(wrong)) });
    const error = await engine.start(authorization()).then(
      () => undefined,
      (caught: unknown) => caught as Error,
    );
    expect(error).toBeInstanceOf(UpstreamError);
    expect(error?.message).toContain("illegal_parameter (47): wrong PSK?");
    const everything = `${error?.message}\n${log.lines.join("\n")}`;
    expect(everything).not.toContain(wrong);
    expect(everything).not.toContain(TEXT_KEY);
    expect(ts.counters.connectionsAccepted).toBe(0);
  });
});
