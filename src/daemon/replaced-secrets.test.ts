import { describe, expect, test } from "bun:test";
import { loadConfig, type RuntimeConfig } from "../config";
import { wipeReplacedPskKeys } from "./replaced-secrets";

const BUILD = { version: "0.0.0-test", commit: "test", features: ["tls", "psk"], runtime: "bun test" };

async function pskConfig(key: string): Promise<RuntimeConfig> {
  const outcome = await loadConfig(
    ["--server-addr", "127.0.0.1:4900", "--server-addr", "127.0.0.2:4900", "--use-tls", "--psk-identity", "h21-reload", "--psk-key", key],
    {},
    BUILD,
  );
  if (outcome.kind !== "run") throw new Error(outcome.stderr);
  return outcome.config;
}

const pskOf = (config: RuntimeConfig, index: number): Uint8Array => {
  const security = config.engine.servers[index]!.security;
  if (security.kind !== "psk") throw new Error("expected PSK");
  return security.key.reveal();
};

describe("wipeReplacedPskKeys", () => {
  test("after a reload the replaced configuration's PSKs are zero; the new ones are intact", async () => {
    const old = await pskConfig("hex:00112233445566778899aabbccddeeff");
    const next = await pskConfig("hex:ffeeddccbbaa99887766554433221100");
    expect(wipeReplacedPskKeys(old, next)).toBe(2);
    expect([...pskOf(old, 0), ...pskOf(old, 1)].every((byte) => byte === 0)).toBe(true);
    expect(Buffer.from(pskOf(next, 0)).toString("hex")).toBe("ffeeddccbbaa99887766554433221100");
  });

  test("a Secret the new configuration still uses is kept", async () => {
    const config = await pskConfig("hex:00112233445566778899aabbccddeeff");
    expect(wipeReplacedPskKeys(config, config)).toBe(0);
    expect(Buffer.from(pskOf(config, 1)).toString("hex")).toBe("00112233445566778899aabbccddeeff");
  });
});
