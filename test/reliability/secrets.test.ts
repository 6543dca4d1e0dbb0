/**
 * Secret hygiene of the COMPILED daemon at -vvvv (trace: packet headers, every request): three
 * agents drive every path (plain TCP with obfuscation, TLS with a client certificate, TLS 1.3
 * external PSK through stunnel; the proxy and the API on each; failures: a server answering with
 * the wrong key, a TLS handshake refused for an untrusted certificate, a PSK the server does not
 * share, a downstream client with the wrong secret, a wrong user password) with distinctive secret
 * values. None of them may appear in the daemon's output or in `--print-config`, neither as text
 * nor as hex or base64 of their bytes; for the private key, no 16-character run of its PEM body.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { callUnary } from "../../src/api/client";
import type { Endpoint } from "../../src/common/endpoint";
import { AcctFlags, AuthenStatus } from "../../src/protocol";
import { AGENT, startAgent, type AgentProcess } from "../support/agent-process";
import { account, arg, papLogin } from "../support/legacy-client";
import { havePeer } from "../support/peer";
import { testPki } from "../support/pki";
import { startStunnel, type Stunnel } from "../support/stunnel";
import { DEFAULT_POLICY, startTacacsServer, type Policy, type TestServer } from "../support/tacacs-server";

const SHARED = "Shared-Secret-Q7f3xZ";
const PROXY_SECRET = "Proxy-Secret-W9k2mB";
const PSK = "Psk-Key-R4t8nV-0123456789";
const PSK_WRONG = "Psk-Wrong-Y6u1pC-987654321";
const PASSWORD = "User-Password-J5h0sD";
const WRONG_PASSWORD = "Wrong-Password-L3g8eK";
const IDENTITY = "host01@example.com";
const POLICY: Policy = { users: { alice: { ...DEFAULT_POLICY.users.alice!, password: PASSWORD } } };

const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await Promise.resolve(cleanup()).catch(() => {});
});

/** Every spelling of a secret that must never be printed. */
function forms(secret: string | Uint8Array): string[] {
  const bytes = typeof secret === "string" ? Buffer.from(secret) : Buffer.from(secret);
  const out = [bytes.toString("hex"), bytes.toString("base64").replace(/=+$/, "")];
  if (typeof secret === "string") out.push(secret);
  return out;
}

/** 16-character windows of a PEM body (the base64 of the key), every 8 characters. */
function pemRuns(pem: string): string[] {
  const body = pem.split("\n").filter((line) => line && !line.startsWith("-----")).join("");
  const runs: string[] = [];
  for (let at = 0; at + 16 <= body.length; at += 8) runs.push(body.slice(at, at + 16));
  return runs;
}

function leaks(text: string, needles: readonly string[]): string[] {
  return needles.filter((needle) => text.includes(needle));
}

async function server(options: Parameters<typeof startTacacsServer>[0] = {}): Promise<TestServer> {
  const s = await startTacacsServer({ policy: POLICY, ...options });
  cleanups.push(() => s.stop());
  return s;
}

async function agent(args: string[]): Promise<{ agent: AgentProcess; proxy: Endpoint }> {
  const dir = mkdtempSync(join(tmpdir(), "secrets-"));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const proxy: Endpoint = { kind: "unix", path: join(dir, "proxy.sock") };
  const a = await startAgent([...args, "--proxy-endpoint", proxy.path, "--request-timeout-seconds", "1", "--connect-timeout-seconds", "2", "-vvvv"], {}, { dir });
  cleanups.push(() => a.stop());
  return { agent: a, proxy };
}

/** `--print-config` with the same arguments: its whole output. */
function printConfig(args: string[]): string {
  const result = Bun.spawnSync([AGENT, ...args, "--print-config"], { env: { PATH: process.env.PATH ?? "" } });
  expect(result.exitCode).toBe(0);
  return result.stdout.toString() + result.stderr.toString();
}

/** PAP (right and wrong password), accounting and authorization through the API and the proxy. */
async function drive(a: AgentProcess, proxy: Endpoint, downstreamKey: string): Promise<void> {
  const api: Endpoint = { kind: "unix", path: a.socket };
  const pap = (password: string) => callUnary(api, "AuthenticatePap", { user: "alice", password: Buffer.from(password), port: "tty0", remoteAddress: "10.0.0.1" }, 8000);
  expect(((await pap(PASSWORD)).response as { status: string }).status).toBe("AUTHENTICATION_STATUS_PASS");
  expect(((await pap(WRONG_PASSWORD)).response as { status: string }).status).toBe("AUTHENTICATION_STATUS_FAIL");
  expect((await a.tacon(["--user", "alice", "--port", "tty0", "authentication"], { TACON_PASSWORD: PASSWORD })).exit).toBe(0);
  expect((await a.tacon(["--user", "alice", "--port", "tty0", "accounting", "show", "version"])).exit).toBe(0);
  const authz = await callUnary(api, "Authorization", { user: "alice", port: "tty0", authenticationContext: 1, args: [{ name: "service", value: "shell", mandatory: true }, { name: "cmd", value: "show", mandatory: true }] }, 8000);
  expect(authz.result).toBe("response");
  const key = new TextEncoder().encode(downstreamKey);
  expect((await papLogin({ endpoint: proxy, key }, "alice", PASSWORD)).last.status).toBe(AuthenStatus.Pass);
  expect((await papLogin({ endpoint: proxy, key }, "alice", WRONG_PASSWORD)).last.status).toBe(AuthenStatus.Fail);
  expect((await account({ endpoint: proxy, key }, "alice", AcctFlags.Stop, [arg("task_id", "1")])).closedAfter).toBe(true);
  // A downstream client with the wrong secret: the proxy refuses it without echoing anything secret.
  await papLogin({ endpoint: proxy, key: new TextEncoder().encode(WRONG_PASSWORD), timeoutMs: 1500 }, "alice", PASSWORD).catch(() => {});
}

async function expectNoLeaks(a: AgentProcess, args: string[], needles: readonly string[]): Promise<void> {
  expect(await a.stop()).toBe(0);
  const output = a.output();
  // The run really was at trace level and really went through the failure paths.
  expect(output.length).toBeGreaterThan(1000);
  expect(output).toMatch(/received type \d seq \d/);
  // -vvvv shows packet headers, not stack traces.
  expect(output).not.toMatch(/\n\s+at /);
  expect(leaks(output, needles)).toEqual([]);
  expect(leaks(printConfig(args), needles)).toEqual([]);
}

const COMMON_NEEDLES = [SHARED, PROXY_SECRET, PASSWORD, WRONG_PASSWORD].flatMap(forms);

describe("no secret in the -vvvv output or --print-config of the compiled daemon", () => {
  test("plain TCP: shared secret, proxy secret, passwords; a server replying with the wrong key", async () => {
    const wrongKey = await server({ key: SHARED, faults: { wrongKey: true } });
    const good = await server({ key: SHARED });
    const args = ["--server-addr", `127.0.0.1:${wrongKey.port}`, "--server-addr", `127.0.0.1:${good.port}`, "--shared-secret", SHARED, "--proxy-shared-secret", PROXY_SECRET];
    const { agent: a, proxy } = await agent(args);
    await drive(a, proxy, PROXY_SECRET);
    expect(wrongKey.counters.packetsReceived).toBeGreaterThan(0);
    await expectNoLeaks(a, args, COMMON_NEEDLES);
    expect(a.output()).toMatch(/wrong shared secret|length|obfuscat/i);
  }, 30_000);

  test("mutual TLS: the client private key; a handshake refused for an untrusted server certificate", async () => {
    const pki = await testPki();
    const untrusted = await server({ tls: { cert: pki.untrustedServer.certPem, key: pki.untrustedServer.keyPem } });
    const good = await server({ tls: { cert: pki.server.certPem, key: pki.server.keyPem, ca: pki.ca.certPem, requestCert: true } });
    const args = [
      "--server-addr", `127.0.0.1:${untrusted.port}`, "--server-addr", `127.0.0.1:${good.port}`, "--use-tls",
      "--ca-certificate", pki.ca.certPath, "--tls-server-name", "localhost",
      "--client-certificate", pki.clientEc.certPath, "--client-key", pki.clientEc.keyPath, "--shared-secret", SHARED,
    ];
    const { agent: a, proxy } = await agent(args);
    await drive(a, proxy, SHARED);
    expect(good.clientCertificates.length).toBeGreaterThan(0);
    const keyNeedles = [...pemRuns(readFileSync(pki.clientEc.keyPath, "utf8")), ...forms(pki.clientEc.keyDer).slice(0, 1)];
    await expectNoLeaks(a, args, [...COMMON_NEEDLES, ...keyNeedles]);
    expect(a.output()).toMatch(/certificate|handshake/i);
  }, 30_000);

  test.skipIf(!havePeer("stunnel4"))("TLS 1.3 external PSK through stunnel; a server with another PSK", async () => {
    const backend = await server();
    const tunnel = (psk: string): Promise<Stunnel> =>
      startStunnel({ connect: backend.port, files: { "psk.txt": `${IDENTITY}:${psk}\n` }, service: { PSKsecrets: "{dir}/psk.txt", ciphersuites: "TLS_AES_128_GCM_SHA256" } });
    const wrong = await tunnel(PSK_WRONG);
    cleanups.push(() => wrong.stop());
    const right = await tunnel(PSK);
    cleanups.push(() => right.stop());
    const args = [
      "--server-addr", `127.0.0.1:${wrong.port}`, "--server-addr", `127.0.0.1:${right.port}`, "--use-tls",
      "--psk-identity", IDENTITY, "--psk-key", PSK, "--shared-secret", SHARED,
    ];
    const { agent: a, proxy } = await agent(args);
    await drive(a, proxy, SHARED);
    await expectNoLeaks(a, args, [...COMMON_NEEDLES, ...forms(PSK), ...forms(PSK_WRONG)]);
    expect(a.output()).toMatch(/PSK handshake .* failed/);
  }, 30_000);
});
