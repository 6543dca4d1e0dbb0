/**
 * A one-shot PSK client for interop tests that must run in another network namespace (e.g. next
 * to gnutls-serv, which listens on every address). Connects with the project's PSK connector,
 * retrying refused connects for a moment while the server starts, writes each message as its
 * own packet and prints one JSON line: {"ok":true,"received":"..."} or {"ok":false,"error":"..."}.
 *
 *   bun test/support/psk-probe.ts <port> <identity> <hex-key> <psk-dhe|psk-only> <groups,...|-> <message>...
 */
import { Secret } from "../../src/common/secret";
import { silentLogger } from "../../src/common/log";
import { createPskConnector } from "../../src/transport/psk/connector";
import { TransportError, type TlsGroup } from "../../src/transport/types";

const [portText, identity, keyHex, mode, groupList, ...messages] = process.argv.slice(2);
const keyExchange = mode === "psk-only" ? "psk-only" : "psk-dhe";
const connector = createPskConnector(
  {
    kind: "psk",
    identity: new TextEncoder().encode(identity ?? ""),
    key: new Secret(new Uint8Array(Buffer.from(keyHex ?? "", "hex"))),
    keyExchange,
    groups: keyExchange === "psk-dhe" ? ((groupList ?? "").split(",") as TlsGroup[]) : [],
  },
  { log: silentLogger },
);

const expected = messages.join("").length;
let received = "";
const deadline = Date.now() + 4_000;

async function run(): Promise<{ ok: boolean; received?: string; error?: string }> {
  for (;;) {
    try {
      const stream = await connector.connect(
        { host: "127.0.0.1", port: Number(portText) },
        { onData: (chunk) => (received += Buffer.from(chunk).toString()), onClose() {} },
        2_000,
      );
      for (const message of messages) stream.write(Buffer.from(message));
      while (received.length < expected && Date.now() < deadline) await Bun.sleep(10);
      stream.close();
      return { ok: true, received };
    } catch (error) {
      if (error instanceof TransportError && error.kind === "refused" && Date.now() < deadline) {
        await Bun.sleep(50);
        continue;
      }
      return { ok: false, error: (error as Error).message };
    }
  }
}

console.log(JSON.stringify(await run()));
process.exit(0);
