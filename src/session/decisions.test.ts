import { expect, test } from "bun:test";
import { commandKey, DecisionCache } from "./decisions";

const arg = (text: string) => ({ bytes: new TextEncoder().encode(text), length: text.length });

test("cached answers expire after the TTL; the oldest entry goes when full; TTL 0 caches nothing", () => {
  let now = 0;
  const cache = new DecisionCache(1000, 2, () => now);
  const deny = { allowed: false, message: "no" };
  cache.set("a", deny);
  expect(cache.get("a")).toEqual(deny);
  now = 1000;
  expect(cache.get("a")).toBeUndefined();
  cache.set("a", deny);
  cache.set("b", deny);
  cache.set("c", deny);
  expect(cache.get("a")).toBeUndefined();
  expect(cache.get("c")).toEqual(deny);
  expect(cache.counters()).toEqual({ hits: 2, misses: 2, evictions: 1, size: 2 });
  expect(cache.set("d", deny, 1500)).toBe(1500);
  now = 1499;
  expect(cache.get("d")).toEqual(deny);
  now = 1500;
  expect(cache.get("d")).toBeUndefined();
  const never = new DecisionCache(0, 10, () => now);
  expect(never.set("a", deny)).toBeUndefined();
  expect(never.get("a")).toBeUndefined();
});

test("command keys differ by path, argument boundaries, cut arguments and argc", () => {
  const keys = [
    commandKey("/usr/bin/ls", [arg("a b")], 1),
    commandKey("/usr/bin/ls", [arg("a"), arg("b")], 2),
    commandKey("/usr/bin/ls", [{ bytes: arg("a b").bytes, length: 300 }], 1),
    commandKey("/usr/bin/ls", [arg("a b")], 2),
    commandKey("/bin/ls", [arg("a b")], 1),
  ];
  expect(new Set(keys).size).toBe(keys.length);
});
