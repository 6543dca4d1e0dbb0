import { expect, test } from "bun:test";
import { systemRandom } from "./clock";

test("system session ids are never 0 and do not repeat across batches", () => {
  const ids = new Set<number>();
  for (let i = 0; i < 2000; i++) {
    const id = systemRandom.sessionId();
    expect(id).toBeGreaterThan(0);
    expect(id).toBeLessThanOrEqual(0xffffffff);
    ids.add(id);
  }
  // 2000 draws from 2^32 values: a repeat is astronomically unlikely unless batches are reused.
  expect(ids.size).toBe(2000);
});
