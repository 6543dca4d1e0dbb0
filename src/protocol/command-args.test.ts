import { expect, test } from "bun:test";
import { CUT_MARKER, fitArgument, fitCommand, fitCommandArguments, MAX_KEPT_ARG_BYTES, type CommandArg } from "./command-args";

const arg = (text: string): CommandArg => {
  const bytes = new TextEncoder().encode(text);
  return { bytes: bytes.subarray(0, MAX_KEPT_ARG_BYTES), length: bytes.length };
};
const words = (n: number) => Array.from({ length: n }, (_, i) => arg(`a${i}`));

test("values within one argument: kept whole when they fit, else cut on a character boundary with the marker", () => {
  expect(fitArgument(arg("short"), 247)).toBe("short");
  expect(fitCommand(arg("/usr/bin/ip"))).toBe("/usr/bin/ip");
  const path = fitCommand(arg(`/${"é".repeat(200)}`));
  expect(path.endsWith(CUT_MARKER)).toBe(true);
  expect(Buffer.byteLength(`cmd=${path}`)).toBeLessThanOrEqual(255);
  expect(path.replace(CUT_MARKER, "")).toMatch(/^\/é+$/);
});

test("every argument fits while the request has room; one more and the last slot counts the rest", () => {
  // 255 arguments in a request: with service and cmd besides them, 253 cmd-args fit.
  expect(fitCommandArguments(words(253), 253, 2)).toHaveLength(253);
  const over = fitCommandArguments(words(254), 254, 2);
  expect(over).toHaveLength(253);
  expect(over.at(-1)).toBe("[2 more arguments]");
  // Arguments counted beyond the kept ones are counted in the marker too.
  expect(fitCommandArguments(words(256), 1000, 4).at(-1)).toBe(`[${1000 - 250} more arguments]`);
  expect(fitCommandArguments([], 0, 4)).toEqual([]);
});
