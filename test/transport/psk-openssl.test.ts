/**
 * Interop of the TLS 1.3 external-PSK client with OpenSSL's s_server (loopback only):
 * PSK-DHE per group, HelloRetryRequest, PSK-only, wrong key, unknown identity, KeyUpdate,
 * and data round trips including a write over 2^14 bytes.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Secret } from "../../src/common/secret";
import { createPskConnector, type PskSecurity } from "../../src/transport/psk/connector";
import type { KeyLimits } from "../../src/transport/psk/record-layer";
import { TransportError, type ByteStream, type TlsGroup } from "../../src/transport/types";
import { startOpensslPskServer, type OpensslPskServer } from "../support/openssl-psk-server";
import { havePeer } from "../support/peer";
import { capturingLogger } from "../support/logging";

const KEY_HEX = "7d1f3a9c5e2b4d6f8091a2b3c4d5e6f7";
const IDENTITY = "host01@example.com";
const available = havePeer("openssl");

const servers: OpensslPskServer[] = [];
const streams: ByteStream[] = [];
afterEach(() => {
  for (const stream of streams.splice(0)) stream.close();
  for (const server of servers.splice(0)) server.stop();
});

async function opensslServer(
  args: readonly string[],
  identity = IDENTITY,
  certificate?: { certPath: string; keyPath: string },
): Promise<OpensslPskServer> {
  const server = await startOpensslPskServer({ keyHex: KEY_HEX, identity, args, ...(certificate ? { certificate } : {}) });
  servers.push(server);
  return server;
}


interface Client {
  stream: ByteStream;
  received(): string;
  /** Resolves when at least `length` characters arrived. */
  waitFor(length: number): Promise<string>;
  closed: Promise<Error | undefined>;
  lines: string[];
}

async function connect(port: number, overrides: Partial<PskSecurity> = {}, keyLimits?: KeyLimits): Promise<Client> {
  const security: PskSecurity = {
    kind: "psk",
    identity: new TextEncoder().encode(IDENTITY),
    key: new Secret(new Uint8Array(Buffer.from(KEY_HEX, "hex"))),
    keyExchange: "psk-dhe",
    groups: ["secp384r1", "secp256r1"],
    ...overrides,
  };
  const log = capturingLogger();
  const lines = log.lines;
  let text = "";
  const closed = Promise.withResolvers<Error | undefined>();
  const stream = await createPskConnector(security, { log, ...(keyLimits ? { keyLimits } : {}) }).connect(
    { host: "127.0.0.1", port },
    { onData: (chunk) => (text += Buffer.from(chunk).toString("latin1")), onClose: (error) => closed.resolve(error) },
    3_000,
  );
  streams.push(stream);
  return {
    stream,
    received: () => text,
    async waitFor(length) {
      for (let waited = 0; text.length < length && waited < 3_000; waited += 10) await Bun.sleep(10);
      return text;
    },
    closed: closed.promise,
    lines,
  };
}

async function failure(port: number, overrides: Partial<PskSecurity> = {}): Promise<TransportError> {
  const error = await connect(port, overrides).then(
    () => new Error("connect should have failed"),
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(TransportError);
  expect((error as TransportError).kind).toBe("tls");
  expect((error as Error).message).not.toContain(KEY_HEX);
  return error as TransportError;
}

const reverse = (line: string): string => [...line].reverse().join("");

describe.skipIf(!available)("openssl s_server -psk", () => {
  test("psk-dhe with secp384r1: several writes round-trip, one of them over 16 KiB", async () => {
    const server = await opensslServer(["-rev"]);
    const client = await connect(server.port);
    expect(client.lines.join("\n")).toContain("TLS_AES_128_GCM_SHA256, psk-dhe secp384r1");
    const lines = ["first line", "second", "third one here"];
    for (const line of lines) client.stream.write(Buffer.from(`${line}\n`));
    // 500 lines of 40 characters: one 20500-byte write, i.e. two TLS records.
    const bulk = Array.from({ length: 500 }, (_, index) => `line ${String(index).padStart(4, "0")} `.padEnd(39, "x"));
    client.stream.write(Buffer.from(bulk.map((line) => `${line}\n`).join("")));
    const expected = [...lines, ...bulk].map((line) => `${reverse(line)}\n`).join("");
    expect(await client.waitFor(expected.length)).toBe(expected);
    expect(server.output()).toContain("Ciphersuite: TLS_AES_128_GCM_SHA256");
  });

  test("psk-dhe with secp256r1 preferred", async () => {
    const server = await opensslServer(["-rev"]);
    const client = await connect(server.port, { groups: ["secp256r1"] });
    client.stream.write(Buffer.from("p256\n"));
    expect(await client.waitFor(5)).toBe("652p\n");
    expect(client.lines.join("\n")).toContain("psk-dhe secp256r1");
  });

  test("psk-dhe with x25519, and server_name sent", async () => {
    const server = await opensslServer(["-rev", "-groups", "X25519", "-msg"]);
    const client = await connect(server.port, { groups: ["x25519"], serverName: "tacacs.example.com" });
    client.stream.write(Buffer.from("x25519\n"));
    expect(await client.waitFor(7)).toBe("91552x\n");
    // -msg dumps the ClientHello; the host name appears in it as ASCII bytes.
    expect(server.output().replace(/\s+/g, "")).toContain(Buffer.from("tacacs.example.com").toString("hex"));
  });

  test("HelloRetryRequest: server allows only secp256r1, we offer secp384r1 first", async () => {
    const server = await opensslServer(["-rev", "-groups", "secp256r1"]);
    const client = await connect(server.port, { groups: ["secp384r1", "secp256r1"] as TlsGroup[] });
    expect(client.lines.join("\n")).toContain("psk-dhe secp256r1");
    client.stream.write(Buffer.from("after retry\n"));
    expect(await client.waitFor(12)).toBe("yrter retfa\n");
  });

  test("psk-only with -allow_no_dhe_kex", async () => {
    const server = await opensslServer(["-rev", "-allow_no_dhe_kex"]);
    const client = await connect(server.port, { keyExchange: "psk-only", groups: [] });
    expect(client.lines.join("\n")).toContain("TLS_AES_128_GCM_SHA256, psk-only");
    client.stream.write(Buffer.from("no dhe\n"));
    expect(await client.waitFor(7)).toBe("ehd on\n");
  });

  test("psk-only against a server that requires DHE: missing_extension, named", async () => {
    const server = await opensslServer(["-rev"]);
    const error = await failure(server.port, { keyExchange: "psk-only", groups: [] });
    expect(error.message).toBe(
      `TLS PSK handshake with 127.0.0.1:${server.port} failed: server sent alert missing_extension (109): server requires psk-dhe (try --psk-key-exchange psk-dhe)?`,
    );
  });

  test("wrong key: illegal_parameter (47), 'wrong PSK?'", async () => {
    const server = await opensslServer(["-rev"]);
    const error = await failure(server.port, { key: new Secret(new Uint8Array(Buffer.from("00".repeat(16), "hex"))) });
    expect(error.message).toBe(
      `TLS PSK handshake with 127.0.0.1:${server.port} failed: server sent alert illegal_parameter (47): wrong PSK?`,
    );
  });

  test("unknown identity: handshake_failure (40)", async () => {
    const server = await opensslServer(["-rev"], "someone-else");
    const error = await failure(server.port);
    expect(error.message).toMatch(/server sent alert handshake_failure \(40\): unknown PSK identity/);
  });

  test("a server that falls back to its certificate is refused with a clear error", async () => {
    const dir = mkdtempSync(join(tmpdir(), "agentd-psk-cert-"));
    try {
      const certPath = join(dir, "cert.pem");
      const keyPath = join(dir, "key.pem");
      const made = Bun.spawnSync(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-subj", "/CN=localhost", "-days", "1", "-keyout", keyPath, "-out", certPath],
        { stdout: "ignore", stderr: "pipe" },
      );
      expect(made.exitCode).toBe(0);
      const server = await opensslServer(["-rev"], "someone-else", { certPath, keyPath });
      const error = await failure(server.port);
      expect(error.message).toBe(
        `TLS PSK handshake with 127.0.0.1:${server.port} failed: server did not accept the PSK and began a certificate-based handshake (check the PSK identity, or configure certificate TLS) (we sent alert handshake_failure (40))`,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("KeyUpdate with update_requested from the server is answered; data flows on the new keys", async () => {
    const server = await opensslServer(["-msg"]);
    const client = await connect(server.port);
    await server.waitFor("Secure Renegotiation");
    server.send("K");
    await server.waitFor("SSL_do_handshake -> 1");
    client.stream.write(Buffer.from("after key update\n"));
    await server.waitFor("after key update");
    // -msg shows the KeyUpdate it sent (>>>) and our answer (<<<).
    expect(server.output()).toMatch(/>>> TLS 1\.3, Handshake \[length 0005\], KeyUpdate/);
    expect(server.output()).toMatch(/<<< TLS 1\.3, Handshake \[length 0005\], KeyUpdate/);
    server.send("from the server");
    expect(await client.waitFor(16)).toBe("from the server\n");
  });

  test("after a (test-lowered) record limit we update our key: the server sees our KeyUpdates and the data still flows", async () => {
    const server = await opensslServer(["-rev", "-msg"]);
    const client = await connect(server.port, {}, { rekeyAfterRecords: 3, maxRecordsPerKey: 1_000 });
    const lines = Array.from({ length: 7 }, (_, index) => `line ${index}`);
    for (const line of lines) client.stream.write(Buffer.from(`${line}\n`));
    const expected = lines.map((line) => `${reverse(line)}\n`).join("");
    expect(await client.waitFor(expected.length)).toBe(expected);
    // 7 writes, a KeyUpdate after the 3rd and the 6th; -msg shows what it received (<<<).
    expect(server.output().match(/<<< TLS 1\.3, Handshake \[length 0005\], KeyUpdate/g)?.length).toBe(2);
  });

  test("close() sends close_notify: the server sees a clean shutdown", async () => {
    const server = await opensslServer([]);
    const client = await connect(server.port);
    await server.waitFor("Secure Renegotiation");
    client.stream.close();
    await server.waitFor("DONE");
    expect(server.output()).not.toMatch(/error|unexpected eof/i);
    expect(await client.closed).toBeUndefined();
  });
});
