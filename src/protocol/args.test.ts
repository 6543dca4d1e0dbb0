import { expect, test } from "bun:test";
import { codecErrorCode } from "../../test/support/codec-assert";
import { formatArg, parseArg } from "./args";

test("mandatory args use '=', optional args '*'", () => {
  expect(formatArg({ name: "service", value: "shell", mandatory: true })).toBe("service=shell");
  expect(formatArg({ name: "idletime", value: "5", mandatory: false })).toBe("idletime*5");
});

test("the name ends at the first separator; the value may contain either", () => {
  expect(parseArg("cmd-arg=a=b*c")).toEqual({ name: "cmd-arg", value: "a=b*c", mandatory: true });
  expect(parseArg("acl*x=1")).toEqual({ name: "acl", value: "x=1", mandatory: false });
  expect(parseArg("cmd=")).toEqual({ name: "cmd", value: "", mandatory: true });
});

test("format and parse are inverses", () => {
  for (const arg of [
    { name: "priv-lvl", value: "15", mandatory: true },
    { name: "x", value: "*=*", mandatory: false },
    { name: "ü", value: "", mandatory: true },
  ]) {
    expect(parseArg(formatArg(arg))).toEqual(arg);
  }
});

test("malformed arguments are bad-field errors", () => {
  expect(codecErrorCode(() => parseArg("noseparator"))).toBe("bad-field");
  expect(codecErrorCode(() => parseArg("=value"))).toBe("bad-field");
  expect(codecErrorCode(() => parseArg(""))).toBe("bad-field");
  expect(codecErrorCode(() => formatArg({ name: "", value: "v", mandatory: true }))).toBe("bad-field");
  expect(codecErrorCode(() => formatArg({ name: "a=b", value: "v", mandatory: true }))).toBe("bad-field");
  expect(codecErrorCode(() => formatArg({ name: "a*b", value: "v", mandatory: false }))).toBe("bad-field");
});

test("a malformed argument's text is not echoed in the error", () => {
  expect(() => parseArg("password-like-text")).toThrow(/18 characters/);
  expect(() => parseArg("password-like-text")).not.toThrow(/password-like/);
});
