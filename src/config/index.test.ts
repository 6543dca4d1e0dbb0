/**
 * loadConfig as the daemon sees it: help, version, verbosity, defaults, secrets from files
 * and the environment, warnings, freezing, and secrets never in any output.
 */
import { describe, expect, test } from "bun:test";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { inspect } from "node:util";
import { parseArgs } from "citty";
import { FLAGS } from "./definition";
import { BUILD, config, run, scratch } from "./test-helpers";

const files = scratch();

const SERVER = ["--server-addr", "127.0.0.1"];
const text = (bytes: Uint8Array | undefined) => new TextDecoder().decode(bytes);

describe("exits", () => {
  test("--help shows every flag and the secret environment variables, without colours", async () => {
    const outcome = await run(["--help"]);
    if (outcome.kind !== "exit") throw new Error("expected exit");
    expect(outcome.code).toBe(0);
    for (const name of Object.keys(FLAGS)) expect(outcome.stdout).toContain(`--${name}`);
    expect(outcome.stdout).toContain("TACACSRS_PSK_KEY");
    expect(outcome.stdout).not.toContain("\u001b[");
  });

  test("--help wins over other arguments, even bad ones", async () => {
    for (const argv of [["--bogus", "--help"], ["-h", "positional"]]) {
      expect(await run(argv)).toMatchObject({ kind: "exit", code: 0, stderr: "" });
    }
  });

  test("--version names version, commit and features", async () => {
    expect(await run(["--version"])).toEqual({ kind: "exit", code: 0, stdout: `tacacsrs-agentd 1.2.3 (abc1234)\nruntime: bun 1.4.5\nfeatures: tls, psk\n`, stderr: "" });
    expect(BUILD.features).toEqual(["tls", "psk"]);
  });

  test("--print-config with --check-config prints the JSON, then the verdict", async () => {
    const outcome = await run([...SERVER, "--print-config", "--check-config"]);
    if (outcome.kind !== "exit") throw new Error("expected exit");
    const [json, verdict] = outcome.stdout.split(/(?<=\n})\n/);
    expect(JSON.parse(json!).engine.servers[0].port).toBe(49);
    expect(verdict).toBe("configuration OK\n");
  });

  test("warnings go to stderr on --check-config", async () => {
    const outcome = await run([...SERVER, "--check-config"]);
    expect(outcome).toMatchObject({ code: 0, stderr: "tacacsrs-agentd: warning: no shared secret: packets to the plain-TCP servers are sent unobfuscated (TAC_PLUS_UNENCRYPTED_FLAG)\n" });
  });
});

describe("defaults", () => {
  test("the reference's defaults", async () => {
    const loaded = await config([...SERVER, "-k", "0123456789abcdef"]);
    expect(loaded.listenEndpoint).toEqual({ kind: "unix", path: "/run/tacacs/tacacs.sock" });
    expect(loaded.proxyEndpoint).toBeUndefined();
    expect(loaded.services).toEqual({ clientApi: true, proxy: false });
    expect(loaded.socketMode).toBe(0o660);
    expect(loaded.verbosity).toBe(0);
    expect(loaded.engine).toMatchObject({ connectTimeoutMs: 5000, probeIntervalMs: 30_000, maxSessionsInFlight: 256 });
    expect(loaded.engine.servers[0]).toMatchObject({ name: "127.0.0.1:49", host: "127.0.0.1", port: 49, singleConnection: true, timeoutMs: 5000 });
    expect(loaded.limits).toEqual({ maxApiStreams: 1024, maxApiStreamsPerConnection: 100, maxApiWatchStreams: 64, maxApiConnections: 512, maxApiStreamsPerPeer: 512, maxApiConnectionsPerPeer: 256, maxProxyConnections: 256, maxBodyBytes: 65_536, maxGrpcMessageBytes: 4 * 1024 * 1024, proxyIdleTimeoutMs: 30_000, shutdownGraceMs: 10_000 });
  });

  test("per-peer limits: half of the listener's on a Unix socket, all of it on TCP (one peer there), explicit values at most the listener's", async () => {
    const tcp = await config([...SERVER, "-k", "0123456789abcdef", "--listen-endpoint", "127.0.0.1:9049"]);
    expect(tcp.limits).toMatchObject({ maxApiStreamsPerPeer: 1024, maxApiConnectionsPerPeer: 512 });
    const given = await config([...SERVER, "-k", "0123456789abcdef", "--max-api-streams-per-peer", "1024", "--max-api-connections-per-peer", "7"]);
    expect(given.limits).toMatchObject({ maxApiStreamsPerPeer: 1024, maxApiConnectionsPerPeer: 7 });
  });

  test("TLS moves the default port to 300 (RFC 9887 §5.2), explicit ports stay", async () => {
    const loaded = await config(["--server-addr", "tacacs.example.com", "--server-addr", "[::1]:449", "--server-addr", "::1", "--use-tls"]);
    expect(loaded.engine.servers.map((server) => [server.name, server.host, server.port])).toEqual([
      ["tacacs.example.com:300", "tacacs.example.com", 300],
      ["[::1]:449", "::1", 449],
      ["[::1]:300", "::1", 300],
    ]);
  });

  test("every limit and timeout flag is applied", async () => {
    const loaded = await config([
      ...SERVER, "--request-timeout-seconds", "7", "--max-api-streams", "10", "--max-api-connections", "9", "--max-proxy-connections", "11", "--max-sessions-in-flight", "12",
      "--max-body-bytes", "196356", "--proxy-idle-timeout-seconds", "13", "--shutdown-grace-seconds", "14", "--socket-mode", "0600",
    ]);
    expect(loaded.engine.servers[0]!.timeoutMs).toBe(7000);
    expect(loaded.engine.maxSessionsInFlight).toBe(12);
    expect(loaded.engine.maxBodyBytes).toBe(196_356);
    expect(loaded.socketMode).toBe(0o600);
    expect(loaded.limits).toMatchObject({ maxApiStreams: 10, maxApiConnections: 9, maxApiStreamsPerPeer: 5, maxApiConnectionsPerPeer: 5, maxProxyConnections: 11, maxBodyBytes: 196_356, proxyIdleTimeoutMs: 13_000, shutdownGraceMs: 14_000 });
  });

  test("TLS options: CA bundle, server name, insecure mode", async () => {
    const ca = files.file("ca-bundle.pem", "");
    const outcome = await run([...SERVER, "--use-tls", "--ca-certificate", ca]);
    expect(outcome).toMatchObject({ code: 2 });
    const loaded = await config([...SERVER, "--use-tls", "--tls-server-name", "tacacs.example.com", "--insecure-disable-certificate-verification"]);
    expect(loaded.engine.servers[0]!.security).toEqual({ kind: "tls", caPem: [], useSystemCa: true, verifyServer: false, serverName: "tacacs.example.com" });
  });
});

describe("verbosity", () => {
  const cases: [string[], number][] = [[["-v"], 1], [["-vv"], 2], [["-vvv"], 3], [["-vvvv"], 4], [["--verbose", "--verbose"], 2], [["-v", "-vv"], 3], [["-vvvvvv"], 4]];
  for (const [flags, level] of cases) {
    test(`${flags.join(" ")} → ${level}`, async () => {
      expect((await config([...SERVER, ...flags])).verbosity).toBe(level);
    });
  }

  test("citty alone keeps only the last --server-addr and cannot count -vvvv (why argv.ts exists)", () => {
    const parsed: Record<string, unknown> = parseArgs(["--server-addr", "a", "--server-addr", "b", "-vvvv"], FLAGS);
    expect(parsed["server-addr"]).toBe("b");
    expect(parsed.verbose).not.toBe(4);
  });

  test("repeated --server-addr keeps every server in order", async () => {
    const loaded = await config(["--server-addr", "c.example", "--server-addr=a.example:1", "--server-addr", "b.example"]);
    expect(loaded.engine.servers.map((server) => server.name)).toEqual(["c.example:49", "a.example:1", "b.example:49"]);
  });
});

describe("secrets from flags, files and the environment", () => {
  test("a file wins over the environment; one final newline is dropped", async () => {
    const file = files.file("secret", "from-the-file-0123\n");
    const loaded = await config([...SERVER, "--shared-secret-file", file], { TACACSRS_SHARED_SECRET: "from-the-environment" });
    expect(text(loaded.engine.servers[0]!.sharedSecret?.reveal())).toBe("from-the-file-0123");
  });

  test("the environment is used when no flag is given", async () => {
    const loaded = await config([...SERVER, "--use-tls", "--psk-identity", "id"], {
      TACACSRS_SHARED_SECRET: "environment-secret-0123",
      TACACSRS_PSK_KEY: "hex:000102030405060708090a0b0c0d0e0f",
      TACACSRS_PROXY_SHARED_SECRET: "proxy-secret-0123456",
    });
    const server = loaded.engine.servers[0]!;
    expect(text(server.sharedSecret?.reveal())).toBe("environment-secret-0123");
    if (server.security.kind !== "psk") throw new Error("expected PSK");
    expect([...server.security.key.reveal()]).toEqual([...Array(16).keys()]);
    expect(text(loaded.proxySharedSecret?.reveal())).toBe("proxy-secret-0123456");
  });

  test("a PSK key file and a proxy secret file", async () => {
    const key = files.file("psk", "base64:AAECAwQFBgcICQoLDA0ODw==\n");
    const proxy = files.file("proxy-secret", "proxy-secret-from-file\r\n");
    const loaded = await config([...SERVER, "--use-tls", "--psk-identity", "id", "--psk-key-file", key, "--proxy-shared-secret-file", proxy, "--proxy-endpoint", "127.0.0.1:9049"]);
    const security = loaded.engine.servers[0]!.security;
    if (security.kind !== "psk") throw new Error("expected PSK");
    expect(security.key.length).toBe(16);
    expect(text(loaded.proxySharedSecret?.reveal())).toBe("proxy-secret-from-file");
  });

  test("systemd credentials (LoadCredential=): between the file flag and the environment", async () => {
    for (const name of ["credentials", "no-credentials", "empty-credentials"]) mkdirSync(join(files.dir(), name), { recursive: true });
    const credentials = join(files.dir(), "credentials");
    files.file("credentials/shared-secret", "credential-secret-0123\n");
    files.file("credentials/psk-key", "hex:000102030405060708090a0b0c0d0e0f");
    files.file("credentials/proxy-shared-secret", "credential-proxy-0123");
    const env = { CREDENTIALS_DIRECTORY: credentials, TACACSRS_SHARED_SECRET: "environment-secret-0123", TACACSRS_PSK_KEY: "environment-psk-0123456" };
    const loaded = await config([...SERVER, "--use-tls", "--psk-identity", "id", "--proxy-endpoint", "127.0.0.1:9049"], env);
    const server = loaded.engine.servers[0]!;
    expect(text(server.sharedSecret?.reveal())).toBe("credential-secret-0123");
    if (server.security.kind !== "psk") throw new Error("expected PSK");
    expect([...server.security.key.reveal()]).toEqual([...Array(16).keys()]);
    expect(text(loaded.proxySharedSecret?.reveal())).toBe("credential-proxy-0123");
    const flagWins = await config([...SERVER, "--shared-secret", "from-the-flag-0123456"], env);
    expect(text(flagWins.engine.servers[0]!.sharedSecret?.reveal())).toBe("from-the-flag-0123456");
    // A credential that is not there falls back to the environment; an empty one is an error.
    const fallback = await config([...SERVER], { CREDENTIALS_DIRECTORY: join(files.dir(), "no-credentials"), TACACSRS_SHARED_SECRET: "environment-secret-0123" });
    expect(text(fallback.engine.servers[0]!.sharedSecret?.reveal())).toBe("environment-secret-0123");
    files.file("empty-credentials/shared-secret", "");
    const empty = await run([...SERVER], { CREDENTIALS_DIRECTORY: join(files.dir(), "empty-credentials") });
    expect(empty).toMatchObject({ kind: "exit", code: 2 });
    if (empty.kind === "exit") expect(empty.stderr).toContain("credential shared-secret");
  });

  test("secret files readable by group or others, short secrets and unused settings are warned about", async () => {
    const file = files.file("shared-secret-644", "short\n", 0o644);
    const outcome = await run([...SERVER, "--shared-secret-file", file, "--proxy-shared-secret", "0123456789abcdef", "--socket-mode", "666"]);
    if (outcome.kind !== "run") throw new Error("expected run");
    expect(outcome.warnings).toEqual([
      "--socket-mode 666: every local user may use the sockets",
      "--proxy-shared-secret: unused, the proxy service is not hosted",
      `--shared-secret-file ${file}: readable by group or others although it holds a secret or key; restrict it (chmod 600)`,
      `--shared-secret-file ${file}: shorter than 16 characters (RFC 8907 §10.5.1 recommends at least 16)`,
    ]);
  });
});

describe("PSK key entropy (RFC 9257 §6)", () => {
  test("a text PSK is warned about; hex: and base64: keys are not", async () => {
    const psk = (key: string) => run([...SERVER, "--use-tls", "--psk-identity", "id", "--psk-key", key]);
    const textual = await psk("correct-horse-battery-staple");
    expect(textual.kind === "run" && textual.warnings).toEqual([
      "--psk-key: the PSK is plain text, which rarely has enough entropy (RFC 9257 §6); prefer a random key written as hex:… or base64:… (e.g. `openssl rand -hex 32`)",
    ]);
    for (const key of ["hex:00112233445566778899aabbccddeeff", "base64:AAECAwQFBgcICQoLDA0ODw=="]) {
      const outcome = await psk(key);
      expect(outcome.kind === "run" && outcome.warnings).toEqual([]);
    }
  });
});

describe("proxy secrets", () => {
  const proxy = ["--proxy-endpoint", "127.0.0.1:9049"];
  const warning = "the proxy uses the selected upstream's shared secret downstream, and the upstream secrets differ (or some are missing); set --proxy-shared-secret or use one secret";

  test("YANG servers with different secrets behind the proxy are warned about", async () => {
    const file = files.file("two-secrets.json", JSON.stringify({ "ietf-system-tacacs-plus:tacacs-plus": { server: [
      { name: "a", "server-type": "authentication authorization accounting", address: "192.0.2.1", "shared-secret": "first-secret-0123456" },
      { name: "b", "server-type": "authentication authorization accounting", address: "192.0.2.2", "shared-secret": "other-secret-0123456" },
    ] } }));
    const outcome = await run(["--config", file, ...proxy]);
    expect(outcome.kind === "run" && outcome.warnings).toEqual([warning]);
    const withProxySecret = await run(["--config", file, ...proxy, "--proxy-shared-secret", "downstream-secret-0123"]);
    expect(withProxySecret.kind === "run" && withProxySecret.warnings).toEqual([]);
  });

  test("one secret for every flag server needs no warning", async () => {
    const outcome = await run([...SERVER, "--server-addr", "127.0.0.2", "-k", "0123456789abcdef", ...proxy]);
    expect(outcome.kind === "run" && outcome.warnings).toEqual([]);
  });
});

describe("the configuration is frozen", () => {
  test("nested objects and lists cannot be changed", async () => {
    const loaded = await config([...SERVER, "--server-addr", "127.0.0.2"]);
    expect(Object.isFrozen(loaded)).toBe(true);
    expect(Object.isFrozen(loaded.engine.servers)).toBe(true);
    expect(Object.isFrozen(loaded.engine.servers[1]!.security)).toBe(true);
    expect(() => (loaded.engine.servers as unknown[]).push({})).toThrow();
  });
});

describe("secrets never appear in any output", () => {
  const SHARED = "Shared-Secret-Marker-1";
  const PSK = "Psk-Key-Marker-0123456";
  const PROXY = "Proxy-Secret-Marker-22";
  const MARKERS = [SHARED, PSK, PROXY];

  const invocations: [string, string[], Record<string, string>][] = [
    ["accepted, printed", [...SERVER, "--use-tls", "--psk-identity", "id", "--psk-key", PSK, "-k", SHARED, "--proxy-shared-secret", PROXY, "--proxy-endpoint", "127.0.0.1:9049", "--print-config", "--check-config"], {}],
    ["from the environment", [...SERVER, "--print-config"], { TACACSRS_SHARED_SECRET: SHARED, TACACSRS_PROXY_SHARED_SECRET: PROXY }],
    ["secret that lost its flag", [...SERVER, "-k", SHARED, PSK], {}],
    ["secret after a switch", [...SERVER, "--use-tls", SHARED], {}],
    ["short PSK", [...SERVER, "--use-tls", "--psk-identity", "id", "--psk-key", PSK.slice(0, 10)], {}],
    ["bad hex PSK", [...SERVER, "--use-tls", "--psk-identity", "id", "--psk-key", `hex:${PSK}`], {}],
    ["PSK in env, bad", [...SERVER, "--use-tls", "--psk-identity", "id"], { TACACSRS_PSK_KEY: `base64:${PSK}!` }],
    ["secret given twice", [...SERVER, "-k", SHARED, "-k", PROXY], {}],
    ["secret with a later error", [...SERVER, "-k", SHARED, "--socket-mode", "abc"], {}],
  ];

  for (const [name, argv, env] of invocations) {
    test(name, async () => {
      const outcome = await run(argv, env);
      const shown = outcome.kind === "exit" ? outcome.stdout + outcome.stderr : [JSON.stringify(outcome.config), inspect(outcome.config, { depth: 10 }), ...outcome.warnings].join("\n");
      for (const marker of MARKERS) expect(shown).not.toContain(marker.slice(0, 10));
    });
  }

  test("--print-config shows [redacted] where each secret is", async () => {
    const outcome = await run(invocations[0]![1]);
    if (outcome.kind !== "exit") throw new Error("expected exit");
    const printed = JSON.parse(outcome.stdout.replace("configuration OK\n", ""));
    expect(printed.proxySharedSecret).toBe("[redacted]");
    expect(printed.engine.servers[0].sharedSecret).toBe("[redacted]");
    expect(printed.engine.servers[0].security).toEqual({ kind: "psk", identity: "id", key: "[redacted]", keyExchange: "psk-dhe", groups: ["secp384r1", "secp256r1"], serverName: null });
  });
});
