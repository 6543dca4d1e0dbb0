/**
 * The TLS transition guide (shared spec), end to end with the compiled agent: each of its four
 * commands (TLS server authentication, mTLS, PSK-DHE, PSK-only), with loopback addresses and the
 * test CA substituted, runs the proxy on 127.0.0.1; stunnel4 (a TLS 1.3 server we did not write)
 * fronts the test TACACS+ server; a legacy client (pam_tacplus-like: a connection per request,
 * its own secret=) only changes its server to the proxy and runs the PAM and audisp flows.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { Endpoint } from "../../src/common/endpoint";
import { AcctFlags, AcctStatus, AuthenStatus, AuthorStatus } from "../../src/protocol";
import { startAgent, type AgentProcess } from "../support/agent-process";
import { account, arg, asciiLogin, authorize, papLogin } from "../support/legacy-client";
import { havePeer } from "../support/peer";
import { testPki, type Pki } from "../support/pki";
import { startStunnel, type Stunnel, type StunnelOptions } from "../support/stunnel";
import { startTacacsServer, type TestServer } from "../support/tacacs-server";

const TACACS_SHARED_SECRET = "replace-with-secret-from-secret-store";
const TACACS_TLS_PSK = "replace-with-tls-psk-from-secret-store";
const PSK_IDENTITY = "host01@example.com";

async function freeLoopbackPort(): Promise<number> {
  const listener = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  const port = listener.port;
  listener.stop(true);
  return port;
}

let pki: Pki;
const peers = havePeer("stunnel4");

describe.skipIf(!peers)("transition guide: pam_tacplus and audisp-tacplus through the proxy, TLS upstream", () => {
  beforeAll(async () => {
    pki = await testPki();
  });

  const modes: { name: string; stunnel: () => Omit<StunnelOptions, "connect">; flags: () => string[] }[] = [
    {
      name: "TLS server authentication",
      stunnel: () => ({ service: { cert: pki.server.certPath, key: pki.server.keyPath } }),
      flags: () => ["--use-tls"],
    },
    {
      name: "TLS mTLS",
      stunnel: () => ({
        service: { cert: pki.server.certPath, key: pki.server.keyPath, CAfile: pki.ca.certPath, verifyChain: "yes", requireCert: "yes" },
      }),
      flags: () => ["--use-tls", "--client-certificate", pki.clientEc.certPath, "--client-key", pki.clientEc.keyPath],
    },
    {
      name: "TLS PSK-DHE",
      stunnel: () => ({
        service: { PSKsecrets: "{dir}/psk.txt", ciphersuites: "TLS_AES_128_GCM_SHA256" },
        files: { "psk.txt": `${PSK_IDENTITY}:${TACACS_TLS_PSK}\n` },
      }),
      flags: () => ["--use-tls", "--psk-identity", PSK_IDENTITY, "--psk-key", TACACS_TLS_PSK, "--psk-key-exchange-groups", "secp384r1,secp256r1"],
    },
    {
      name: "TLS PSK-only",
      stunnel: () => ({
        service: { PSKsecrets: "{dir}/psk.txt", ciphersuites: "TLS_AES_128_GCM_SHA256", options: "ALLOW_NO_DHE_KEX" },
        files: { "psk.txt": `${PSK_IDENTITY}:${TACACS_TLS_PSK}\n` },
      }),
      flags: () => ["--use-tls", "--psk-identity", PSK_IDENTITY, "--psk-key", TACACS_TLS_PSK, "--psk-key-exchange", "psk-only"],
    },
  ];

  for (const mode of modes) {
    describe(mode.name, () => {
      let upstream: TestServer;
      let tunnel: Stunnel;
      let agent: AgentProcess;
      let proxy: Endpoint;

      beforeAll(async () => {
        // Inside TLS the upstream sees unobfuscated packets with the unencrypted flag (RFC 9887).
        upstream = await startTacacsServer();
        tunnel = await startStunnel({ connect: upstream.port, ...mode.stunnel() });
        const port = await freeLoopbackPort();
        proxy = { kind: "tcp", host: "127.0.0.1", port };
        const usesCertificates = !mode.flags().includes("--psk-identity");
        agent = await startAgent([
          "--server-addr", `localhost:${tunnel.port}`,
          "--service-mode", "tacacs-proxy",
          "--proxy-endpoint", `127.0.0.1:${port}`,
          "--shared-secret", TACACS_SHARED_SECRET,
          ...mode.flags(),
          ...(usesCertificates ? ["--ca-certificate", pki.ca.certPath] : []),
          "-vv",
        ], {}, { waitHealthy: false });
        await waitForProxy(proxy);
      }, 20_000);

      afterAll(async () => {
        await agent?.stop();
        tunnel?.stop();
        await upstream?.stop();
      });

      const client = () => ({ endpoint: proxy, key: new TextEncoder().encode(TACACS_SHARED_SECRET), timeoutMs: 5_000 });

      test("pam_tacplus auth (login=pap and login=login): pass and fail", async () => {
        expect((await papLogin(client(), "alice", "alicepw")).last.status).toBe(AuthenStatus.Pass);
        expect((await papLogin(client(), "alice", "wrongpw")).last.status).toBe(AuthenStatus.Fail);
        const ascii = await asciiLogin(client(), "alice", "alicepw");
        expect(ascii.last.status).toBe(AuthenStatus.Pass);
        expect(ascii.closedAfter).toBe(true);
      });

      test("pam_tacplus account and session (service=shell protocol=ssh), audisp accounting", async () => {
        const shell = await authorize(client(), "alice", [arg("service", "shell"), arg("protocol", "ssh"), arg("cmd", "")]);
        expect([AuthorStatus.PassAdd, AuthorStatus.PassRepl]).toContain(shell.last.status);
        const before = upstream.records.length;
        const start = await account(client(), "alice", AcctFlags.Start, [arg("task_id", "42"), arg("service", "shell"), arg("protocol", "ssh")]);
        const stop = await account(client(), "alice", AcctFlags.Stop, [arg("task_id", "42"), arg("service", "shell"), arg("protocol", "ssh")]);
        expect([start.last.status, stop.last.status]).toEqual([AcctStatus.Success, AcctStatus.Success]);
        const stored = upstream.records.slice(before);
        expect(stored.map((r) => r.flags)).toEqual([AcctFlags.Start, AcctFlags.Stop]);
        expect(stored.every((r) => r.args.some((a) => a.name === "task_id" && a.value === "42"))).toBe(true);
        const audit = await account(client(), "alice", AcctFlags.Stop, [arg("service", "shell"), arg("cmd", "show"), arg("cmd-arg", "version")]);
        expect(audit.last.status).toBe(AcctStatus.Success);
      });

      test("the agent's log names the TLS upstream and no secret", () => {
        const log = agent.output();
        expect(log).toContain("proxy listening on 127.0.0.1:");
        expect(log).not.toContain(TACACS_SHARED_SECRET);
        expect(log).not.toContain(TACACS_TLS_PSK);
        expect(log).not.toContain("alicepw");
      });
    });
  }
});

async function waitForProxy(endpoint: Endpoint): Promise<void> {
  if (endpoint.kind !== "tcp") return;
  const until = Date.now() + 10_000;
  for (;;) {
    const open = await Bun.connect({ hostname: endpoint.host, port: endpoint.port, socket: { data() {} } })
      .then((socket) => (socket.end(), true))
      .catch(() => false);
    if (open) return;
    if (Date.now() > until) throw new Error("the proxy did not start listening within 10 s");
    await Bun.sleep(25);
  }
}
