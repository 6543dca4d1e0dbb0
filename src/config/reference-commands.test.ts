/**
 * Every example command of the reference README and of the TLS transition guide passes
 * --check-config, with loopback addresses, temp socket paths and temp certificate files
 * substituted, and means what the documents say.
 */
import { beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { testPki, type Pki } from "../../test/support/pki";
import { config, run, scratch } from "./test-helpers";

const files = scratch();

// The guide's placeholders, loaded "from the host's secret manager".
const TACACS_SHARED_SECRET = "replace-with-secret-from-secret-store";
const TACACS_TLS_PSK = "replace-with-tls-psk-from-secret-store";

let pki: Pki;
let sock: (name: string) => string;
let yangFile: string;

/** The test PKI takes a few seconds of openssl runs. */
const PKI_TIMEOUT_MS = 30_000;

beforeAll(async () => {
  pki = await testPki();
  sock = (name) => join(files.dir(), name);
  yangFile = files.file(
    "tacacs.json",
    JSON.stringify({ "ietf-system-tacacs-plus:tacacs-plus": { server: [{ name: "a", "server-type": "authentication", address: "127.0.0.1", "shared-secret": TACACS_SHARED_SECRET }] } }),
  );
}, PKI_TIMEOUT_MS);

/** name → argv (built lazily: paths exist only after beforeAll). */
const COMMANDS: Record<string, () => string[]> = {
  "README quick start": () => ["--server-addr", "127.0.0.1:49", "--server-addr", "127.0.0.2:49", "--listen-endpoint", sock("tacacs.sock"), "--proxy-endpoint", sock("tacacs-proxy.sock"), "--shared-secret", "shared_secret"],
  "README systemd unit": () => ["--server-addr", "127.0.0.1:49", "--server-addr", "127.0.0.2:49", "--listen-endpoint", sock("tacacs.sock"), "--socket-mode", "660", "--shared-secret", "shared_secret", "--preferred-probe-interval-seconds", "30"],
  "README with TLS (PEM)": () => ["--server-addr", "127.0.0.1:449", "--server-addr", "127.0.0.2:449", "--use-tls", "--client-certificate", pki.clientEc.certPath, "--client-key", pki.clientEc.keyPath, "--listen-endpoint", sock("tacacs.sock")],
  "README with TLS (DER)": () => ["--server-addr", "127.0.0.1:449", "--server-addr", "127.0.0.2:449", "--use-tls", "--client-certificate", pki.clientEc.certDerPath, "--client-key", pki.clientEc.keyDerPath, "--listen-endpoint", sock("tacacs.sock")],
  "README fast failover": () => ["--server-addr", "127.0.0.1:49", "--server-addr", "127.0.0.2:49", "--server-addr", "127.0.0.3:49", "--connect-timeout-seconds", "3", "--preferred-probe-interval-seconds", "15", "--shared-secret", "shared_secret", "--listen-endpoint", sock("tacacs.sock"), "-vv"],
  "README local proxy": () => ["--server-addr", "127.0.0.1:49", "--server-addr", "127.0.0.2:49", "--listen-endpoint", sock("tacacs.sock"), "--proxy-endpoint", sock("tacacs-proxy.sock"), "--socket-mode", "660", "--shared-secret", "shared_secret"],
  "README proxy only": () => ["--server-addr", "127.0.0.1:49", "--server-addr", "127.0.0.2:49", "--service-mode", "tacacs-proxy", "--proxy-endpoint", sock("tacacs-proxy.sock"), "--socket-mode", "660", "--shared-secret", "shared_secret"],
  "README loopback TCP endpoints": () => ["--server-addr", "127.0.0.20:49", "--listen-endpoint", "127.0.0.1:9049", "--proxy-endpoint", "127.0.0.1:9050", "--shared-secret", "shared_secret"],
  "README YANG config": () => ["--config", yangFile, "--listen-endpoint", sock("tacacs.sock")],
  "guide TLS server authentication": () => ["--server-addr", "127.0.0.1:449", "--server-addr", "127.0.0.2:449", "--service-mode", "tacacs-proxy", "--proxy-endpoint", "127.0.0.1:9049", "--shared-secret", TACACS_SHARED_SECRET, "--use-tls", "-vv"],
  "guide TLS mTLS": () => ["--server-addr", "127.0.0.1:449", "--server-addr", "127.0.0.2:449", "--service-mode", "tacacs-proxy", "--proxy-endpoint", "127.0.0.1:9049", "--shared-secret", TACACS_SHARED_SECRET, "--use-tls", "--client-certificate", pki.clientEc.certPath, "--client-key", pki.clientEc.keyPath, "-vv"],
  "guide TLS PSK-DHE": () => ["--server-addr", "127.0.0.1:449", "--server-addr", "127.0.0.2:449", "--service-mode", "tacacs-proxy", "--proxy-endpoint", "127.0.0.1:9049", "--shared-secret", TACACS_SHARED_SECRET, "--use-tls", "--psk-identity", "host01@example.com", "--psk-key", TACACS_TLS_PSK, "--psk-key-exchange-groups", "secp384r1,secp256r1", "-vv"],
  "guide TLS PSK-only": () => ["--server-addr", "127.0.0.1:449", "--service-mode", "tacacs-proxy", "--proxy-endpoint", "127.0.0.1:9049", "--shared-secret", TACACS_SHARED_SECRET, "--use-tls", "--psk-identity", "host01@example.com", "--psk-key", TACACS_TLS_PSK, "--psk-key-exchange", "psk-only", "-vv"],
};

describe("reference commands pass --check-config", () => {
  for (const [name, argv] of Object.entries(COMMANDS)) {
    test(name, async () => {
      const outcome = await run([...argv(), "--check-config"]);
      expect(outcome).toMatchObject({ kind: "exit", code: 0, stdout: "configuration OK\n" });
    });
  }
});

describe("reference commands mean what the documents say", () => {
  test("quick start: both services, two servers in order, port kept, one secret for both", async () => {
    const { engine, services, proxyEndpoint } = await config(COMMANDS["README quick start"]!());
    expect(services).toEqual({ clientApi: true, proxy: true });
    expect(proxyEndpoint).toEqual({ kind: "unix", path: sock("tacacs-proxy.sock") });
    expect(engine.servers.map((server) => server.name)).toEqual(["127.0.0.1:49", "127.0.0.2:49"]);
    expect(engine.servers.every((server) => server.security.kind === "tcp" && new TextDecoder().decode(server.sharedSecret?.reveal()) === "shared_secret")).toBe(true);
  });

  test("systemd unit: socket mode 0660, probe every 30 s, client API only", async () => {
    const loaded = await config(COMMANDS["README systemd unit"]!());
    expect(loaded.socketMode).toBe(0o660);
    expect(loaded.engine.probeIntervalMs).toBe(30_000);
    expect(loaded.services).toEqual({ clientApi: true, proxy: false });
  });

  test("fast failover: three servers, 3 s connect timeout, 15 s probe, info logs", async () => {
    const loaded = await config(COMMANDS["README fast failover"]!());
    expect(loaded.engine.servers).toHaveLength(3);
    expect(loaded.engine.connectTimeoutMs).toBe(3000);
    expect(loaded.engine.probeIntervalMs).toBe(15_000);
    expect(loaded.verbosity).toBe(2);
  });

  test("proxy only: no client API", async () => {
    expect((await config(COMMANDS["README proxy only"]!())).services).toEqual({ clientApi: false, proxy: true });
  });

  test("loopback TCP endpoints", async () => {
    const loaded = await config(COMMANDS["README loopback TCP endpoints"]!());
    expect(loaded.listenEndpoint).toEqual({ kind: "tcp", host: "127.0.0.1", port: 9049 });
    expect(loaded.proxyEndpoint).toEqual({ kind: "tcp", host: "127.0.0.1", port: 9050 });
  });

  test("TLS with PEM and with DER files yields the same client identity", async () => {
    const pem = (await config(COMMANDS["README with TLS (PEM)"]!())).engine.servers[0]!.security;
    const der = (await config(COMMANDS["README with TLS (DER)"]!())).engine.servers[0]!.security;
    if (pem.kind !== "tls" || der.kind !== "tls") throw new Error("expected TLS");
    expect(pem.clientCertificatePem).toBe(der.clientCertificatePem!);
    expect(pem.clientCertificatePem).toContain("-----BEGIN CERTIFICATE-----");
    expect(new TextDecoder().decode(pem.clientKeyPem!.reveal())).toBe(new TextDecoder().decode(der.clientKeyPem!.reveal()));
    expect(pem).toMatchObject({ verifyServer: true, useSystemCa: true, caPem: [] });
  });

  test("server-auth TLS: the system store verifies, the secret stays for the downstream side", async () => {
    const server = (await config(COMMANDS["guide TLS server authentication"]!())).engine.servers[0]!;
    expect(server.security).toEqual({ kind: "tls", caPem: [], useSystemCa: true, verifyServer: true, serverName: undefined });
    expect(server.port).toBe(449);
    expect(server.sharedSecret?.length).toBe(TACACS_SHARED_SECRET.length);
  });

  test("PSK-DHE and PSK-only", async () => {
    const dhe = (await config(COMMANDS["guide TLS PSK-DHE"]!())).engine.servers[0]!.security;
    const only = (await config(COMMANDS["guide TLS PSK-only"]!())).engine.servers[0]!.security;
    if (dhe.kind !== "psk" || only.kind !== "psk") throw new Error("expected PSK");
    expect(new TextDecoder().decode(dhe.identity)).toBe("host01@example.com");
    expect(new TextDecoder().decode(dhe.key.reveal())).toBe(TACACS_TLS_PSK);
    expect([dhe.keyExchange, dhe.groups]).toEqual(["psk-dhe", ["secp384r1", "secp256r1"]]);
    expect([only.keyExchange, only.groups]).toEqual(["psk-only", []]);
  });

  test("the YANG config replaces --server-addr", async () => {
    const loaded = await config(COMMANDS["README YANG config"]!());
    expect(loaded.source).toBe(yangFile);
    expect(loaded.engine.servers.map((server) => [server.name, server.port])).toEqual([["a", 49]]);
  });
});
