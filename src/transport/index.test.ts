import { afterEach, expect, test } from "bun:test";
import { Secret } from "../common/secret";
import { testPki } from "../../test/support/pki";
import { connectorFor } from "./index";
import { TransportError, type StreamHandlers } from "./types";

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const cleanup of cleanups.splice(0)) cleanup();
});

const handlers: StreamHandlers = { onData() {}, onClose() {} };

/** A server that answers plain bytes to plain TCP and TLS 1.3 to TLS, telling which one it saw. */
function listen(tls?: { cert: string; key: string }): number {
  const server = Bun.listen({
    hostname: "127.0.0.1",
    port: 0,
    ...(tls ? { tls } : {}),
    socket: { data: (socket, chunk) => void socket.write(chunk) },
  });
  cleanups.push(() => server.stop(true));
  return server.port;
}

async function echo(security: Parameters<typeof connectorFor>[0], port: number): Promise<string> {
  let got = "";
  const stream = await connectorFor(security).connect(
    { host: "127.0.0.1", port },
    { ...handlers, onData: (chunk) => void (got += new TextDecoder().decode(chunk)) },
    2_000,
  );
  stream.write(new TextEncoder().encode("hi"));
  for (let i = 0; i < 200 && got !== "hi"; i++) await Bun.sleep(5);
  stream.close();
  return got;
}

test("tcp security gives a plain TCP connector", async () => {
  expect(await echo({ kind: "tcp" }, listen())).toBe("hi");
});

test("tls security gives a certificate TLS connector", async () => {
  const pki = await testPki();
  const port = listen({ cert: pki.server.certPem, key: pki.server.keyPem });
  expect(await echo({ kind: "tls", caPem: [pki.ca.certPem], useSystemCa: false, verifyServer: true }, port)).toBe("hi");
  // The same server is not plain TCP: a TCP connector gets TLS bytes back, not an echo of "hi".
  expect(await echo({ kind: "tcp" }, port)).not.toBe("hi");
});

test("psk security gives the PSK connector, which checks its key at once", () => {
  const psk = { kind: "psk", identity: new TextEncoder().encode("client"), keyExchange: "psk-dhe", groups: ["secp256r1"] } as const;
  expect(() => connectorFor({ ...psk, key: Secret.fromText("short") })).toThrow("at least 16");
  expect(connectorFor({ ...psk, key: Secret.fromText("0123456789abcdef") }).connect).toBeFunction();
  expect(TransportError).toBeFunction();
});
