/**
 * The TLS transition guide end to end with the compiled agent: the guide's four proxy commands
 * (server-auth TLS, mTLS, PSK-DHE, PSK-only; loopback test port, --shared-secret, --use-tls) with
 * stunnel TLS 1.3 in front of the test servers; the legacy clients (a pam_tacplus/audisp-like
 * scripted client and Perl Authen::TacacsPlus) repointed at the proxy; failover; rollback to a
 * plain upstream without touching the clients; the README's Unix-socket proxy endpoint. Only
 * differences from the guide: loopback addresses and free ports, --ca-certificate for the test CA.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Endpoint } from "../../src/common/endpoint";
import { AcctFlags, AcctStatus, AuthenStatus, AuthorStatus } from "../../src/protocol";
import { startAgent, type AgentProcess } from "../support/agent-process";
import { account, arg, asciiLogin, authorize, LegacyConnection, papLogin } from "../support/legacy-client";
import { havePeer } from "../support/peer";
import { testPki, type Pki } from "../support/pki";
import { LAB_KEY } from "../support/proxy-stack";
import { startStunnel, type Stunnel } from "../support/stunnel";
import { startTacacsServer, type TestServer } from "../support/tacacs-server";
import { freeLoopbackPort } from "../support/wait";

const key = new TextEncoder().encode(LAB_KEY);

/** Waits until the agent's proxy accepts connections (proxy-only mode has no API to health-check). */
async function proxyReady(agent: AgentProcess, endpoint: Endpoint): Promise<void> {
  const until = Date.now() + 10_000;
  for (;;) {
    const connection = await LegacyConnection.open(endpoint, 500).catch(() => undefined);
    if (connection) return connection.close();
    if (agent.process.exitCode !== null || Date.now() > until) throw new Error(`the proxy did not come up:\n${agent.output()}`);
    await Bun.sleep(25);
  }
}

async function startProxyAgent(args: string[], endpoint: Endpoint): Promise<AgentProcess> {
  // startAgent adds a --listen-endpoint in its temp dir; with --service-mode tacacs-proxy it is unused.
  const agent = await startAgent(args, {}, { waitHealthy: false });
  try {
    await proxyReady(agent, endpoint);
  } catch (error) {
    await agent.stop();
    throw error;
  }
  return agent;
}

async function perlPap(port: number, password: string): Promise<string> {
  const script = `use Authen::TacacsPlus;
my $tac = Authen::TacacsPlus->new(Host => '127.0.0.1', Key => '${LAB_KEY}', Port => ${port}, Timeout => 5) or do { print "connect-error\\n"; exit 2 };
print $tac->authen('alice', $ARGV[0], &Authen::TacacsPlus::TAC_PLUS_AUTHEN_TYPE_PAP) ? "pass\\n" : "fail\\n";`;
  const child = Bun.spawn(["perl", "-e", script, password], { stdout: "pipe", stderr: "pipe" });
  const timer = setTimeout(() => child.kill(), 8000);
  await child.exited;
  clearTimeout(timer);
  return (await new Response(child.stdout).text()).trim();
}

describe.skipIf(!havePeer("stunnel4") || !havePeer("perl"))("transition guide with the compiled agent", () => {
  let pki: Pki;
  let servers: TestServer[];
  let tunnels: Stunnel[];
  let mutual: Stunnel;

  beforeAll(async () => {
    pki = await testPki();
    // Behind TLS the servers see unobfuscated packets (RFC 9887), so they have no shared secret.
    servers = await Promise.all([startTacacsServer(), startTacacsServer()]);
    const serverCert = { cert: pki.server.certPath, key: pki.server.keyPath };
    tunnels = await Promise.all(servers.map((server) => startStunnel({ connect: server.port, service: serverCert })));
    mutual = await startStunnel({ connect: servers[0]!.port, service: { ...serverCert, CAfile: pki.ca.certPath, verifyChain: true, requireCert: true } });
  });
  afterAll(async () => {
    for (const tunnel of [...(tunnels ?? []), mutual]) tunnel?.stop();
    await Promise.all((servers ?? []).map((server) => server.stop()));
  });

  test("TLS server authentication: pam_tacplus and audisp flows, Perl, then failover when tacacs1 dies", async () => {
    const port = freeLoopbackPort();
    const endpoint: Endpoint = { kind: "tcp", host: "127.0.0.1", port };
    // prettier-ignore
    const agent = await startProxyAgent([
      "--server-addr", `127.0.0.1:${tunnels[0]!.port}`,
      "--server-addr", `127.0.0.1:${tunnels[1]!.port}`,
      "--service-mode", "tacacs-proxy",
      "--proxy-endpoint", `127.0.0.1:${port}`,
      "--shared-secret", LAB_KEY,
      "--use-tls",
      "--ca-certificate", pki.ca.certPath,
      "-vv",
    ], endpoint);
    try {
      const client = { endpoint, key };
      expect((await papLogin(client, "alice", "alicepw")).last.status).toBe(AuthenStatus.Pass);
      expect((await papLogin(client, "alice", "wrongpw")).last.status).toBe(AuthenStatus.Fail);
      expect((await asciiLogin(client, "alice", "alicepw")).last.status).toBe(AuthenStatus.Pass);
      const shell = [arg("service", "shell"), arg("protocol", "ssh")];
      expect((await authorize(client, "alice", [...shell, arg("cmd", "show"), arg("cmd-arg", "version")])).last.status).toBe(AuthorStatus.PassAdd);
      const before = servers[0]!.records.length;
      expect((await account(client, "alice", AcctFlags.Start, [arg("task_id", "42"), ...shell])).last.status).toBe(AcctStatus.Success);
      expect((await account(client, "alice", AcctFlags.Stop, [arg("task_id", "42"), ...shell])).last.status).toBe(AcctStatus.Success);
      expect(servers[0]!.records.slice(before).map((r) => r.flags)).toEqual([AcctFlags.Start, AcctFlags.Stop]);
      expect(await perlPap(port, "alicepw")).toBe("pass");
      expect(await perlPap(port, "wrongpw")).toBe("fail");

      tunnels[0]!.stop();
      servers[0]!.resetConnections();
      const sessionsBefore = servers[1]!.counters.sessionsStarted;
      expect((await papLogin(client, "alice", "alicepw")).last.status).toBe(AuthenStatus.Pass);
      expect(servers[1]!.counters.sessionsStarted).toBe(sessionsBefore + 1);
    } finally {
      expect(await agent.stop()).toBe(0);
    }
    expect(agent.output()).not.toContain(LAB_KEY);
    expect(agent.output()).not.toContain("alicepw");
  });

  test("TLS mTLS: the guide's client certificate flags", async () => {
    const port = freeLoopbackPort();
    const endpoint: Endpoint = { kind: "tcp", host: "127.0.0.1", port };
    // prettier-ignore
    const agent = await startProxyAgent([
      "--server-addr", `127.0.0.1:${mutual.port}`,
      "--service-mode", "tacacs-proxy",
      "--proxy-endpoint", `127.0.0.1:${port}`,
      "--shared-secret", LAB_KEY,
      "--use-tls",
      "--client-certificate", pki.clientEc.certPath,
      "--client-key", pki.clientEc.keyPath,
      "--ca-certificate", pki.ca.certPath,
      "-vv",
    ], endpoint);
    try {
      expect((await papLogin({ endpoint, key }, "alice", "alicepw")).last.status).toBe(AuthenStatus.Pass);
    } finally {
      expect(await agent.stop()).toBe(0);
    }
  });
});

describe.skipIf(!havePeer("stunnel4"))("transition guide, TLS PSK (stunnel PSKsecrets upstream)", () => {
  const IDENTITY = "host01@example.com";
  const PSK = "lab-psk-not-hex-0123456789";
  let server: TestServer;
  let dhe: Stunnel;
  let pskOnly: Stunnel;

  beforeAll(async () => {
    server = await startTacacsServer();
    const psk = (extra: Record<string, string>) =>
      startStunnel({
        connect: server.port,
        files: { "psk.txt": `${IDENTITY}:${PSK}\n` },
        service: { PSKsecrets: "{dir}/psk.txt", ciphersuites: "TLS_AES_128_GCM_SHA256", ...extra },
      });
    [dhe, pskOnly] = await Promise.all([psk({}), psk({ options: "ALLOW_NO_DHE_KEX" })]);
  });
  afterAll(async () => {
    dhe?.stop();
    pskOnly?.stop();
    await server?.stop();
  });

  test.each([
    ["PSK-DHE", () => dhe, ["--psk-key-exchange-groups", "secp384r1,secp256r1"]],
    ["PSK-only", () => pskOnly, ["--psk-key-exchange", "psk-only"]],
  ] as const)("%s: the guide's command serves the legacy client", async (_, tunnel, exchange) => {
    const port = freeLoopbackPort();
    const endpoint: Endpoint = { kind: "tcp", host: "127.0.0.1", port };
    // prettier-ignore
    const agent = await startProxyAgent([
      "--server-addr", `127.0.0.1:${tunnel().port}`,
      "--service-mode", "tacacs-proxy",
      "--proxy-endpoint", `127.0.0.1:${port}`,
      "--shared-secret", LAB_KEY,
      "--use-tls",
      "--psk-identity", IDENTITY,
      "--psk-key", PSK,
      ...exchange,
      "-vv",
    ], endpoint);
    try {
      const client = { endpoint, key };
      expect((await asciiLogin(client, "alice", "alicepw")).last.status).toBe(AuthenStatus.Pass);
      expect((await account(client, "alice", AcctFlags.Start, [arg("task_id", "7")])).last.status).toBe(AcctStatus.Success);
    } finally {
      expect(await agent.stop()).toBe(0);
    }
    expect(agent.output()).not.toContain(PSK);
  });
});

describe("rollback and the README's Unix socket proxy endpoint", () => {
  test("rollback: the same clients, the agent pointed at a plain upstream without --use-tls", async () => {
    const server = await startTacacsServer({ key: LAB_KEY });
    const port = freeLoopbackPort();
    const endpoint: Endpoint = { kind: "tcp", host: "127.0.0.1", port };
    try {
      // prettier-ignore
      const agent = await startProxyAgent([
        "--server-addr", `127.0.0.1:${server.port}`,
        "--service-mode", "tacacs-proxy",
        "--proxy-endpoint", `127.0.0.1:${port}`,
        "--shared-secret", LAB_KEY,
      ], endpoint);
      try {
        expect((await asciiLogin({ endpoint, key }, "alice", "alicepw")).last.status).toBe(AuthenStatus.Pass);
      } finally {
        expect(await agent.stop()).toBe(0);
      }
    } finally {
      await server.stop();
    }
  });

  test("both services with a Unix-socket proxy endpoint: --socket-mode applies, SIGTERM removes it", async () => {
    const server = await startTacacsServer({ key: LAB_KEY });
    const dir = mkdtempSync(join(tmpdir(), "tacacsrs-proxy-e2e-"));
    const path = join(dir, "tacacs-proxy.sock");
    try {
      const agent = await startAgent(["--server-addr", `127.0.0.1:${server.port}`, "--proxy-endpoint", path, "--socket-mode", "660", "--shared-secret", LAB_KEY], {}, { dir });
      try {
        expect(statSync(path).mode & 0o777).toBe(0o660);
        expect((await papLogin({ endpoint: { kind: "unix", path }, key }, "alice", "alicepw")).last.status).toBe(AuthenStatus.Pass);
      } finally {
        expect(await agent.stop()).toBe(0);
      }
      expect(existsSync(path)).toBe(false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
      await server.stop();
    }
  });
});
