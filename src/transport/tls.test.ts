import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import type { Socket, TCPSocketListener } from "bun";
import { createPrivateKey, X509Certificate } from "node:crypto";
import { Secret } from "../common/secret";
import { havePeer } from "../../test/support/peer";
import { testPki, type Material, type Pki } from "../../test/support/pki";
import { startOnePacketTlsServer } from "../../test/support/one-packet-tls-server";
import { startStunnel, type Stunnel } from "../../test/support/stunnel";
import { getCACertificates } from "node:tls";
import { boringSslGroups, settleMs, tlsConnector, trustAnchors, type TlsSecurity } from "./tls";
import { TransportError, type ByteStream, type StreamHandlers } from "./types";
import { until } from "../../test/support/wait";

let pki: Pki;
beforeAll(async () => {
  pki = await testPki();
});

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const cleanup of cleanups.splice(0)) cleanup();
});

function security(overrides: Partial<TlsSecurity> = {}): TlsSecurity {
  return { kind: "tls", caPem: [pki.ca.certPem], useSystemCa: true, verifyServer: true, ...overrides };
}

function withClient(material: Material): Partial<TlsSecurity> {
  return { clientCertificatePem: material.certPem, clientKeyPem: Secret.fromText(material.keyPem) };
}

interface TlsServer {
  port: number;
  /** Per accepted connection: SNI, protocol version, whether it ended. */
  seen: { serverName: string; version: string; closed: boolean }[];
  received: () => Buffer;
  receivedBytes: () => number;
}

/** A Bun TLS echo server presenting `material`. */
function tlsEchoServer(material: Material, extra: Record<string, unknown> = {}): TlsServer {
  const seen: TlsServer["seen"] = [];
  const chunks: Uint8Array[] = [];
  let receivedBytes = 0;
  const server = Bun.listen<{ index: number }>({
    hostname: "127.0.0.1",
    port: 0,
    tls: { cert: material.certPem, key: material.keyPem, ...extra },
    socket: {
      binaryType: "uint8array",
      handshake(socket) {
        socket.data = { index: seen.length };
        seen.push({ serverName: socket.getServername() ?? "", version: socket.getTLSVersion(), closed: false });
      },
      data(socket, chunk) {
        chunks.push(new Uint8Array(chunk));
        receivedBytes += chunk.length;
        socket.write(chunk);
      },
      close(socket) {
        const entry = socket.data && seen[socket.data.index];
        if (entry) entry.closed = true;
      },
      error() {},
    },
  });
  cleanups.push(() => server.stop(true));
  return { port: server.port, seen, received: () => Buffer.concat(chunks), receivedBytes: () => receivedBytes };
}

function recorder() {
  const data: Uint8Array[] = [];
  const closes: (Error | undefined)[] = [];
  const handlers: StreamHandlers = { onData: (chunk) => data.push(chunk), onClose: (error) => closes.push(error) };
  return { data, closes, handlers, text: () => Buffer.concat(data).toString() };
}

async function rejection(promise: Promise<ByteStream>): Promise<TransportError> {
  const error = await promise.then(
    (stream) => {
      stream.close();
      return new Error("connect unexpectedly succeeded");
    },
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(TransportError);
  return error as TransportError;
}

/** Connects, sends "ping", expects the echo back, closes. */
async function roundTrip(sec: TlsSecurity, port: number, host = "127.0.0.1"): Promise<void> {
  const rec = recorder();
  const stream = await tlsConnector(sec).connect({ host, port }, rec.handlers, 3_000);
  stream.write(new TextEncoder().encode("ping"));
  await until(() => rec.text() === "ping");
  stream.close();
  expect(rec.closes).toEqual([undefined]);
}

describe("tlsConnector against a Bun TLS server", () => {
  test("TLS 1.3, verified against the configured CA, no SNI for an IP address", async () => {
    const server = tlsEchoServer(pki.server);
    await roundTrip(security({ useSystemCa: false }), server.port);
    await until(() => server.seen[0]?.closed === true); // our close reached the server
    expect(server.seen).toEqual([{ serverName: "", version: "TLSv1.3", closed: true }]);
  });

  test("sends the host name as SNI, or the configured server name", async () => {
    const server = tlsEchoServer(pki.server);
    await roundTrip(security(), server.port, "localhost");
    await roundTrip(security({ serverName: "localhost" }), server.port, "127.0.0.1");
    expect(server.seen.map((s) => s.serverName)).toEqual(["localhost", "localhost"]);
  });

  test("binds the source address", async () => {
    const peers: string[] = [];
    const server = Bun.listen({
      hostname: "127.0.0.1",
      port: 0,
      tls: { cert: pki.server.certPem, key: pki.server.keyPem },
      socket: { open: (socket) => void peers.push(socket.remoteAddress), data: (socket, chunk) => void socket.write(chunk) },
    });
    cleanups.push(() => server.stop(true));
    const stream = await tlsConnector(security()).connect({ host: "127.0.0.1", port: server.port, sourceAddress: "127.0.0.3" }, recorder().handlers, 3_000);
    expect(peers).toEqual(["127.0.0.3"]);
    stream.close();
  });

  test("refuses a server that offers only TLS 1.2", async () => {
    const server = tlsEchoServer(pki.server, { maxVersion: 0x0303 });
    const error = await rejection(tlsConnector(security()).connect({ host: "127.0.0.1", port: server.port }, recorder().handlers, 3_000));
    expect(error.kind).toBe("tls");
    expect(error.message).toStartWith(`TLS with 127.0.0.1:${server.port} failed: `);
    expect(error.message).toContain("protocol_version");
  });

  test("rejects a certificate for another name", async () => {
    const server = tlsEchoServer(pki.wrongNameServer);
    for (const target of [
      { host: "localhost", sec: security(), names: "Host: localhost. is not in the cert's altnames: DNS:wrong.example" },
      { host: "127.0.0.1", sec: security(), names: "IP: 127.0.0.1 is not in the cert's list" },
      { host: "127.0.0.1", sec: security({ serverName: "localhost" }), names: "Host: localhost. is not in the cert's altnames" },
    ]) {
      const error = await rejection(tlsConnector(target.sec).connect({ host: target.host, port: server.port }, recorder().handlers, 3_000));
      expect(error.kind).toBe("tls");
      expect(error.message).toContain("server certificate does not match the name");
      expect(error.message).toContain(target.names);
    }
  });

  test("rejects a certificate from an unknown CA, with the system store alone too", async () => {
    const server = tlsEchoServer(pki.untrustedServer);
    const error = await rejection(tlsConnector(security()).connect({ host: "localhost", port: server.port }, recorder().handlers, 3_000));
    expect(error.kind).toBe("tls");
    expect(error.message).toBe(`TLS with localhost:${server.port} failed: server certificate is not issued by a trusted CA (UNABLE_TO_VERIFY_LEAF_SIGNATURE)`);
    const ours = tlsEchoServer(pki.server);
    const systemOnly = await rejection(tlsConnector(security({ caPem: [] })).connect({ host: "localhost", port: ours.port }, recorder().handlers, 3_000));
    expect(systemOnly.message).toContain("not issued by a trusted CA");
  });

  test("rejects an expired certificate", async () => {
    const server = tlsEchoServer(pki.expiredServer);
    const error = await rejection(tlsConnector(security()).connect({ host: "localhost", port: server.port }, recorder().handlers, 3_000));
    expect(error.kind).toBe("tls");
    expect(error.message).toBe(`TLS with localhost:${server.port} failed: server certificate has expired (CERT_HAS_EXPIRED)`);
  });

  test("with verification disabled, accepts unknown CAs, expired and misnamed certificates", async () => {
    for (const material of [pki.untrustedServer, pki.expiredServer, pki.wrongNameServer]) {
      const server = tlsEchoServer(material);
      await roundTrip(security({ caPem: [], verifyServer: false }), server.port, "localhost");
    }
  });

  test("64 packets written back to back travel as 64 separate TLS records", async () => {
    const server = tlsEchoServer(pki.server);
    const relay = recordCountingRelay(server.port);
    const rec = recorder();
    const stream = await tlsConnector(security()).connect({ host: "127.0.0.1", port: relay.port }, rec.handlers, 3_000);
    const packet = new Uint8Array(60).fill(0x5a); // a TACACS+ header plus a small body
    for (let i = 0; i < 64; i++) stream.write(packet);
    await until(() => server.receivedBytes() === 64 * packet.length);
    // TLS 1.3 application records: plaintext + 1 content-type byte + 16 tag bytes (RFC 8446 §5.2).
    const packetRecords = relay.clientRecords().filter((r) => r.type === 23 && r.length === packet.length + 17);
    expect(packetRecords.length).toBe(64);
    stream.close();
  });

  test("a large write is split as needed and arrives whole and in order", async () => {
    const server = tlsEchoServer(pki.server);
    const rec = recorder();
    const stream = await tlsConnector(security()).connect({ host: "127.0.0.1", port: server.port }, rec.handlers, 3_000);
    const big = new Uint8Array(4 * 1024 * 1024);
    for (let i = 0; i < big.length; i++) big[i] = (i * 31 + (i >> 10)) & 0xff;
    const expected = big.slice();
    stream.write(big);
    stream.write(new Uint8Array([1, 2, 3]));
    big.fill(0);
    await until(() => server.receivedBytes() === expected.length + 3, 10_000);
    expect(Buffer.compare(server.received().subarray(0, expected.length), expected)).toBe(0);
    expect([...server.received().subarray(expected.length)]).toEqual([1, 2, 3]);
    stream.close();
  });

  test("the server closing ends the stream once, without an error", async () => {
    let serverSocket: Socket<unknown> | undefined;
    const server = Bun.listen({
      hostname: "127.0.0.1",
      port: 0,
      tls: { cert: pki.server.certPem, key: pki.server.keyPem },
      socket: { handshake: (socket) => void (serverSocket = socket), data() {} },
    });
    cleanups.push(() => server.stop(true));
    const rec = recorder();
    const stream = await tlsConnector(security()).connect({ host: "127.0.0.1", port: server.port }, rec.handlers, 3_000);
    serverSocket!.end();
    await until(() => rec.closes.length > 0);
    stream.close();
    await Bun.sleep(20);
    expect(rec.closes).toEqual([undefined]);
  });

  test("unusable client material is a clear error that shows no key", async () => {
    const server = tlsEchoServer(pki.server);
    const connect = (overrides: Partial<TlsSecurity>) =>
      rejection(tlsConnector(security(overrides)).connect({ host: "127.0.0.1", port: server.port }, recorder().handlers, 3_000));
    const mismatched = await connect({ clientCertificatePem: pki.clientEc.certPem, clientKeyPem: Secret.fromText(pki.clientRsa.keyPem) });
    expect(mismatched.kind).toBe("tls");
    expect(mismatched.message).toEndWith("not usable: the client certificate does not match the client key");
    const garbage = "-----BEGIN PRIVATE KEY-----\nSECRETSECRETSECRET\n-----END PRIVATE KEY-----\n";
    const bad = await connect({ clientCertificatePem: pki.clientEc.certPem, clientKeyPem: Secret.fromText(garbage) });
    expect(bad.message).toContain("not usable");
    expect(bad.message).not.toContain("SECRET");
    const lonely = await connect({ clientCertificatePem: pki.clientEc.certPem });
    expect(lonely.message).toContain("a client certificate needs its key");
  });

  test("a server that hangs up right after the handshake fails the connect", async () => {
    for (const [hangUp, reason] of [
      [(socket: Socket<unknown>) => void socket.end(), "the server closed the connection"],
      [(socket: Socket<unknown>) => void socket.terminate(), "connection reset (ECONNRESET)"],
    ] as const) {
      const server = Bun.listen({
        hostname: "127.0.0.1",
        port: 0,
        tls: { cert: pki.server.certPem, key: pki.server.keyPem },
        socket: { handshake: hangUp, data() {} },
      });
      cleanups.push(() => server.stop(true));
      const rec = recorder();
      const error = await rejection(tlsConnector(security()).connect({ host: "127.0.0.1", port: server.port }, rec.handlers, 3_000));
      expect(error.kind).toBe("tls");
      expect(error.message).toBe(
        `TLS with 127.0.0.1:${server.port} failed: ${reason} right after the TLS handshake (did it refuse our client certificate?)`,
      );
      expect(rec.closes).toEqual([]);
    }
  });

  test("a server that never answers the handshake times out", async () => {
    const silent = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
    cleanups.push(() => silent.stop(true));
    const started = performance.now();
    const error = await rejection(tlsConnector(security()).connect({ host: "127.0.0.1", port: silent.port }, recorder().handlers, 200));
    expect(error.kind).toBe("timeout");
    expect(error.message).toBe(`connect to 127.0.0.1:${silent.port} timed out after 200 ms`);
    expect(error.handshakeFailure).toBe("handshake_timeout");
    expect(performance.now() - started).toBeLessThan(1_500);
  });

  test("a refused TCP connect stays a refused error", async () => {
    const server = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
    const port = server.port;
    server.stop(true);
    const error = await rejection(tlsConnector(security()).connect({ host: "127.0.0.1", port }, recorder().handlers, 3_000));
    expect(error.kind).toBe("refused");
  });
});

describe.skipIf(!havePeer("python3"))("tlsConnector against a one-packet-per-read server (tac_plus-ng behaviour)", () => {
  test("64 packets written back to back are all answered promptly", async () => {
    const server = await startOnePacketTlsServer({ certPath: pki.server.certPath, keyPath: pki.server.keyPath });
    cleanups.push(server.stop);
    const rec = recorder();
    const stream = await tlsConnector(security()).connect({ host: "localhost", port: server.port }, rec.handlers, 3_000);
    const packets = Array.from({ length: 64 }, (_, i) => tacacsLikePacket(i + 1, 48));
    for (const packet of packets) stream.write(packet);
    const total = packets.reduce((sum, packet) => sum + packet.length, 0);
    await until(() => Buffer.concat(rec.data).length === total, 5_000); // merged records would hang here
    expect(Buffer.compare(Buffer.concat(rec.data), Buffer.concat(packets))).toBe(0);
    expect(server.packets()).toBe(64);
    stream.close();
  });
});

/** A 12-byte TACACS+ header (RFC 8907 §4.1, unencrypted flag set) and a body of `bodyLength` bytes. */
function tacacsLikePacket(sessionId: number, bodyLength: number): Uint8Array {
  const packet = new Uint8Array(12 + bodyLength).fill(0x41);
  const view = new DataView(packet.buffer);
  view.setUint8(0, 0xc0);
  view.setUint8(1, 2);
  view.setUint8(2, 1);
  view.setUint8(3, 0x01);
  view.setUint32(4, sessionId);
  view.setUint32(8, bodyLength);
  return packet;
}

test("trust anchors: the system store plus configured CAs, or only the configured ones", () => {
  const mine = "-----BEGIN CERTIFICATE-----\nMINE\n-----END CERTIFICATE-----\n";
  const withSystem = trustAnchors({ kind: "tls", caPem: [mine], useSystemCa: true, verifyServer: true });
  expect(withSystem).toContain(mine);
  for (const anchor of getCACertificates("system")) expect(withSystem).toContain(anchor);
  expect(trustAnchors({ kind: "tls", caPem: [mine], useSystemCa: false, verifyServer: true })).toEqual([mine]);
});

test("group names are mapped to BoringSSL's", () => {
  expect(boringSslGroups(["secp384r1", "secp256r1", "x25519"])).toBe("P-384:P-256:X25519");
});

test("the settle window follows the handshake time within bounds", () => {
  expect(settleMs(0)).toBe(50);
  expect(settleMs(20)).toBe(60);
  expect(settleMs(5_000)).toBe(1_000);
});

/** In PEM as the configuration layer produces it from DER files (node:crypto). */
function pemFromDer(material: Material): Partial<TlsSecurity> {
  const key = createPrivateKey({ key: Buffer.from(material.keyDer), format: "der", type: "pkcs8" });
  return {
    clientCertificatePem: new X509Certificate(material.certDer).toString(),
    clientKeyPem: Secret.fromText(key.export({ format: "pem", type: "pkcs8" }).toString()),
  };
}

describe.skipIf(!havePeer("stunnel4"))("tlsConnector against stunnel4", () => {
  let echo: TCPSocketListener<undefined>;
  let serverAuth: Stunnel;
  let mutual: Stunnel;
  beforeAll(async () => {
    echo = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data: (socket, chunk) => void socket.write(chunk) } });
    const server = { cert: pki.server.certPath, key: pki.server.keyPath };
    [serverAuth, mutual] = await Promise.all([
      startStunnel({ connect: echo.port, service: server }),
      startStunnel({ connect: echo.port, service: { ...server, CAfile: pki.ca.certPath, verifyChain: true, requireCert: true } }),
    ]);
  });
  afterAll(() => {
    serverAuth?.stop();
    mutual?.stop();
    echo?.stop(true);
  });

  test("server authentication", async () => {
    await roundTrip(security(), serverAuth.port, "localhost");
  });

  test("mutual TLS with P-256 and RSA client certificates, PEM and DER-converted", async () => {
    for (const client of [withClient(pki.clientEc), withClient(pki.clientRsa), pemFromDer(pki.clientEc), pemFromDer(pki.clientRsa)]) {
      await roundTrip(security(client), mutual.port, "localhost");
    }
  });

  test("a missing client certificate fails the connect with a clear error", async () => {
    const error = await rejection(tlsConnector(security()).connect({ host: "localhost", port: mutual.port }, recorder().handlers, 3_000));
    expect(error.kind).toBe("tls");
    expect(error.message).toBe(`TLS with localhost:${mutual.port} failed: server sent alert certificate_required: the server requires a client certificate`);
  });

  test("an untrusted client certificate fails the connect with a clear error", async () => {
    const rec = recorder();
    const error = await rejection(tlsConnector(security(withClient(pki.untrustedClient))).connect({ host: "localhost", port: mutual.port }, rec.handlers, 3_000));
    expect(error.kind).toBe("tls");
    expect(error.message).toBe(`TLS with localhost:${mutual.port} failed: server sent alert unknown_ca: the server does not trust the CA of our client certificate`);
    expect(rec.closes).toEqual([]);
  });

  test("key-exchange groups are offered as configured", async () => {
    const p384Only = await startStunnel({ connect: echo.port, service: { cert: pki.server.certPath, key: pki.server.keyPath, curves: "secp384r1" } });
    cleanups.push(p384Only.stop);
    await roundTrip(security({ groups: ["secp384r1", "secp256r1"] }), p384Only.port, "localhost");
    const error = await rejection(
      tlsConnector(security({ groups: ["x25519", "secp256r1"] })).connect({ host: "localhost", port: p384Only.port }, recorder().handlers, 3_000),
    );
    expect(error.message).toBe(`TLS with localhost:${p384Only.port} failed: server sent alert handshake_failure: the server found no acceptable TLS parameters`);
  });

  test("a server certificate for another name is rejected", async () => {
    const error = await rejection(
      tlsConnector(security({ serverName: "tacacs.example" })).connect({ host: "127.0.0.1", port: serverAuth.port }, recorder().handlers, 3_000),
    );
    expect(error.kind).toBe("tls");
    expect(error.message).toStartWith(`TLS with tacacs.example (127.0.0.1:${serverAuth.port}) failed: server certificate does not match the name`);
  });
});

interface TlsRecord {
  type: number;
  length: number;
}

/**
 * A plain TCP relay in front of `port` that parses the TLS record headers (RFC 8446 §5.1) the
 * client sends, so a test can count records instead of trusting any server's read pattern.
 */
function recordCountingRelay(port: number): { port: number; clientRecords: () => TlsRecord[] } {
  const records: TlsRecord[] = [];
  let pending = Buffer.alloc(0);
  const parse = (chunk: Uint8Array) => {
    pending = Buffer.concat([pending, chunk]);
    while (pending.length >= 5) {
      const length = pending.readUInt16BE(3);
      if (pending.length < 5 + length) break;
      records.push({ type: pending[0]!, length });
      pending = pending.subarray(5 + length);
    }
  };
  const relay = Bun.listen<{ upstream?: Promise<Socket<unknown>> }>({
    hostname: "127.0.0.1",
    port: 0,
    socket: {
      binaryType: "uint8array",
      open(client) {
        client.data = {
          upstream: Bun.connect({
            hostname: "127.0.0.1",
            port,
            socket: {
              binaryType: "uint8array",
              data: (_upstream, chunk) => void client.write(chunk),
              close: () => void client.end(),
            },
          }),
        };
      },
      async data(client, chunk) {
        const copy = new Uint8Array(chunk);
        parse(copy);
        (await client.data.upstream!).write(copy);
      },
      async close(client) {
        (await client.data?.upstream)?.end();
      },
    },
  });
  cleanups.push(() => relay.stop(true));
  return { port: relay.port, clientRecords: () => records };
}
