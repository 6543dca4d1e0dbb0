import { expect, test } from "bun:test";
import { inspect } from "node:util";
import { Secret } from "./secret";

test("a secret never prints its value", () => {
  const secret = Secret.fromText("hunter2-distinctive");
  const shown = [String(secret), JSON.stringify({ secret }), inspect(secret), `${secret}`, inspect({ nested: secret })];
  for (const text of shown) expect(text).not.toContain("hunter2");
  expect(new TextDecoder().decode(secret.reveal())).toBe("hunter2-distinctive");
});

test("wipe zeroes the bytes", () => {
  const secret = Secret.fromText("abc");
  secret.wipe();
  expect([...secret.reveal()]).toEqual([0, 0, 0]);
});
