/**
 * The PSK Connector over loopback TCP: an in-process scripted PSK echo server, a silent server,
 * a server that hangs up, a refused port, and configuration checks.
 */
import { afterEach, describe, expect, test } from "bun:test";
import type { Socket, TCPSocketListener } from "bun";
import { FakePskServer } from "../../../test/support/psk-fake-server";
import { Secret } from "../../common/secret";
import { silentLogger } from "../../common/log";
import { TransportError } from "../types";
import { createPskConnector, type PskSecurity } from "./connector";
import { PskMaterialError } from "./key-material";
import { CONTENT } from "./record-layer";

const KEY_TEXT = "connector-test-key-0123";
const security = (overrides: Partial<PskSecurity> = {}): PskSecurity => ({
  kind: "psk",
  identity: new TextEncoder().encode("client1"),
  key: Secret.fromText(KEY_TEXT),
  keyExchange: "psk-dhe",
  groups: ["secp384r1", "secp256r1"],
  ...overrides,
});

const listeners: TCPSocketListener<unknown>[] = [];
afterEach(() => {
  for (const listener of listeners.splice(0)) listener.stop(true);
});

/** A loopback server; `onData` gets each chunk with a reply function. */
function listen(onData: (socket: Socket<unknown>, chunk: Uint8Array) => void, onOpen?: (socket: Socket<unknown>) => void): number {
  const listener = Bun.listen<unknown>({
    hostname: "127.0.0.1",
    port: 0,
    socket: { open: (socket) => onOpen?.(socket), data: (socket, chunk) => onData(socket, new Uint8Array(chunk)) },
  });
  listeners.push(listener);
  return listener.port;
}

/** A PSK echo server built on the scripted server; counts the application records it receives. */
function echoServer(): { port: number; applicationRecords: number[] } {
  const applicationRecords: number[] = [];
  const server = new FakePskServer({ key: new TextEncoder().encode(KEY_TEXT) });
  const port = listen((socket, chunk) => {
    server.records.push(chunk);
    for (let record = server.records.next(); record; record = server.records.next()) {
      if (record.type === CONTENT.handshake && !server.hello) {
        server.receiveClientHello(record.fragment);
        socket.write(server.flight());
      } else if (record.type === CONTENT.handshake) {
        // The client Finished: switch to application keys.
        server.records.setReadKeys(server.suite, server.clientAppSecret);
        server.records.setWriteKeys(server.suite, server.serverAppSecret);
      } else if (record.type === CONTENT.application_data) {
        applicationRecords.push(record.fragment.length);
        socket.write(server.records.encode(CONTENT.application_data, record.fragment));
      } else if (record.type === CONTENT.alert) {
        socket.end();
      }
    }
  });
  return { port, applicationRecords };
}

async function connectFailure(promise: Promise<unknown>): Promise<TransportError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(TransportError);
    expect((error as Error).message).not.toContain(KEY_TEXT);
    return error as TransportError;
  }
  throw new Error("connect should have failed");
}

const noHandlers = { onData() {}, onClose() {} };

describe("createPskConnector", () => {
  test("connects, echoes writes as separate records, and closes cleanly", async () => {
    const echo = echoServer();
    let received = "";
    const closed = Promise.withResolvers<Error | undefined>();
    const stream = await createPskConnector(security(), { log: silentLogger }).connect(
      { host: "127.0.0.1", port: echo.port },
      { onData: (chunk) => (received += Buffer.from(chunk).toString()), onClose: (error) => closed.resolve(error) },
      2_000,
    );
    expect(stream.remote).toBe(`127.0.0.1:${echo.port}`);
    stream.write(Buffer.from("abc"));
    stream.write(Buffer.from("defg"));
    for (let waited = 0; received.length < 7 && waited < 2_000; waited += 10) await Bun.sleep(10);
    expect(received).toBe("abcdefg");
    expect(echo.applicationRecords).toEqual([3, 4]);
    stream.close();
    stream.close();
    expect(await closed.promise).toBeUndefined();
  });

  test("the configuration's Secret may be wiped (a reload) while a connect is under way: the handshake has its own copy", async () => {
    const { port } = echoServer();
    const config = security();
    const pending = createPskConnector(config, { log: silentLogger }).connect({ host: "127.0.0.1", port }, noHandlers, 3_000);
    config.key.wipe();
    const stream = await pending;
    stream.close();
  });

  test("a server that never answers times out", async () => {
    const port = listen(() => {});
    const started = Date.now();
    const error = await connectFailure(createPskConnector(security(), { log: silentLogger }).connect({ host: "127.0.0.1", port }, noHandlers, 300));
    expect(error.kind).toBe("timeout");
    expect(error.message).toBe(`TLS PSK handshake with 127.0.0.1:${port} timed out after 300 ms`);
    expect(error.handshakeFailure).toBe("handshake_timeout");
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  test("a server that hangs up during the handshake is a tls failure", async () => {
    const port = listen((socket) => socket.end());
    const error = await connectFailure(createPskConnector(security(), { log: silentLogger }).connect({ host: "127.0.0.1", port }, noHandlers, 2_000));
    expect(error.kind).toBe("tls");
    expect(error.message).toMatch(/^TLS PSK handshake with 127\.0\.0\.1:\d+ failed: .*closed the connection during the handshake/);
    expect(error.handshakeFailure).toBe("connection_closed");
  });

  test("a refused connect keeps the TCP error", async () => {
    const port = listen(() => {});
    listeners.pop()!.stop(true);
    const error = await connectFailure(createPskConnector(security(), { log: silentLogger }).connect({ host: "127.0.0.1", port }, noHandlers, 2_000));
    expect(error.kind).toBe("refused");
    expect(error.handshakeFailure).toBeUndefined();
  });

  test("bad key material fails at construction, without the key in the message", () => {
    expect(() => createPskConnector(security({ key: Secret.fromText("short-secret") }))).toThrow(PskMaterialError);
    expect(() => createPskConnector(security({ identity: new Uint8Array(0) }))).toThrow(/identity is 0 octets/);
    expect(() => createPskConnector(security({ identity: new Uint8Array(65_535) }))).toThrow(/does not fit/);
    expect(() => createPskConnector(security({ groups: [] }))).toThrow(/at least one/);
    try {
      createPskConnector(security({ key: Secret.fromText("short-secret") }));
    } catch (error) {
      expect((error as Error).message).not.toContain("short-secret");
    }
  });
});
