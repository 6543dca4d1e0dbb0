import { expect, test } from "bun:test";
import { LineSplitter } from "./line-splitter";

function split(chunks: (string | Uint8Array)[], max = 100) {
  const lines: string[] = [];
  const oversized: number[] = [];
  const splitter = new LineSplitter(max, { line: (l) => lines.push(l), oversized: (n) => oversized.push(n) });
  for (const chunk of chunks) splitter.push(typeof chunk === "string" ? new TextEncoder().encode(chunk) : chunk);
  splitter.end();
  return { lines, oversized };
}

test("lines split across chunks and several lines in one chunk", () => {
  expect(split(["type=A x", "=1\ntype=B\n", "type=C", " y=2\n\n", "last"]).lines).toEqual(["type=A x=1", "type=B", "type=C y=2", "last"]);
});

test("a 1 MB line is skipped without being buffered, counted once, and the next line is read", () => {
  const big = new Uint8Array(1 << 20).fill(0x41);
  const chunks = [new TextEncoder().encode("before\nAAAA"), ...Array.from({ length: 16 }, (_, i) => big.subarray(i * 65536, (i + 1) * 65536)), new TextEncoder().encode("\nafter\n")];
  const { lines, oversized } = split(chunks, 64 * 1024);
  expect(lines).toEqual(["before", "after"]);
  expect(oversized).toEqual([4 + (1 << 20)]);
});

test("a chunk the reader reuses does not change lines already taken", () => {
  const chunk = new TextEncoder().encode("abc");
  const lines: string[] = [];
  const splitter = new LineSplitter(100, { line: (l) => lines.push(l), oversized: () => {} });
  splitter.push(chunk);
  chunk.fill(0x5a);
  splitter.push(new TextEncoder().encode("\n"));
  expect(lines).toEqual(["abc"]);
});
