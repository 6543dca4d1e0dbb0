import { expect, test } from "bun:test";
import { scanArgv } from "./argv";
import { ConfigError } from "./errors";

test("long, inline, short and counted forms", () => {
  const scanned = scanArgv(["--server-addr", "a", "--server-addr=b", "-k", "-starts-with-dash", "-vv", "--verbose", "--use-tls", "--socket-mode=600"]);
  expect(scanned.values.get("server-addr")).toEqual(["a", "b"]);
  expect(scanned.values.get("shared-secret")).toEqual(["-starts-with-dash"]);
  expect(scanned.values.get("socket-mode")).toEqual(["600"]);
  expect(scanned.verbosity).toBe(3);
  expect([...scanned.switches].sort()).toEqual(["use-tls", "verbose"]);
});

test("an inline empty value is a value", () => {
  expect(scanArgv(["--shared-secret="]).values.get("shared-secret")).toEqual([""]);
});

test("rejections", () => {
  const cases: [string[], string][] = [
    [["--"], "--: unknown flag"],
    [["-"], "-: unknown flag"],
    [["-kv"], "-kv: unknown flag"],
    [["--SERVER-ADDR", "a"], "--SERVER-ADDR: unknown flag"],
    [["--serverAddr", "a"], "--serverAddr: unknown flag"],
    [["--help=1"], "--help: takes no value"],
    [["-k", "s", "--shared-secret", "t"], "--shared-secret: given more than once"],
    [["positional"], "argument 1: unexpected value"],
  ];
  for (const [argv, message] of cases) {
    expect(() => scanArgv(argv)).toThrow(ConfigError);
    expect(() => scanArgv(argv)).toThrow(message);
  }
});
