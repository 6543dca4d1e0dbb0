/**
 * Seeded, bounded random command lines: every outcome is help/version/check output (0) or
 * ONE clean error line (2); nothing escapes as an unexpected error.
 */
import { expect, test } from "bun:test";
import { FLAGS } from "./definition";
import { run, scratch } from "./test-helpers";
import { prng } from "../../test/support/prng";

const files = scratch();


test("1000 random command lines never escape as an unexpected error", async () => {
  const secretFile = files.file("fuzz-secret", "fuzz-secret-0123456789\n");
  const yang = files.file("fuzz.json", JSON.stringify({ "ietf-system-tacacs-plus:tacacs-plus": { server: [{ name: "a", "server-type": "accounting", address: "192.0.2.1" }] } }));
  const values = ["", "0", "1", "660", "-1", "65536", "127.0.0.1", "127.0.0.1:9049", "[::1]:1", "/tmp/x.sock", "host.example:49", "psk-only", "psk-dhe",
    "both", "tacacs-proxy", "client-api", "secp256r1", "x25519,x448", "hex:00", "base64:AAAA", "a-sixteen-octet-key", secretFile, yang, "/nonexistent", "-v", "--", "\u0000", "é".repeat(40)];
  const names = Object.keys(FLAGS).filter((name) => name !== "help" && name !== "version");
  const next = prng(424242);
  const pick = <T>(list: readonly T[]): T => list[Math.floor(next() * list.length)]!;
  const codes = new Set<number>();
  for (let round = 0; round < 1000; round++) {
    const argv: string[] = [];
    const count = 1 + Math.floor(next() * 6);
    for (let index = 0; index < count; index++) {
      const name = pick(names);
      const definition = FLAGS[name as keyof typeof FLAGS];
      if (definition.type === "boolean") argv.push(next() < 0.9 ? `--${name}` : `--${name}=x`);
      else if (next() < 0.5) argv.push(`--${name}`, pick(values));
      else argv.push(`--${name}=${pick(values)}`);
    }
    const outcome = await run(argv, next() < 0.2 ? { TACACSRS_SHARED_SECRET: pick(values) } : {});
    const code = outcome.kind === "exit" ? outcome.code : 0;
    codes.add(code);
    if (outcome.kind === "exit" && outcome.code !== 0) {
      expect({ round, argv, stderr: outcome.stderr }).toMatchObject({ stderr: expect.not.stringContaining("unexpected error") });
      expect(outcome.code).toBe(2);
      expect(outcome.stderr.trimEnd().split("\n")).toHaveLength(1);
    }
  }
  expect([...codes].sort()).toEqual([0, 2]);
});
