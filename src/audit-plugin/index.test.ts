import { expect, test } from "bun:test";
import { expandCompactArgs } from "./index";

test("auditd's two arguments carry options as comma-separated name=value", () => {
  expect(expandCompactArgs(["service-endpoint=/run/tacacs/tacacs.sock,fallback-min-uid=1000", "key=k"])).toEqual([
    "--service-endpoint",
    "/run/tacacs/tacacs.sock",
    "--fallback-min-uid",
    "1000",
    "--key",
    "k",
  ]);
  expect(expandCompactArgs(["--max-queue", "5", "key="])).toEqual(["--max-queue", "5", "--key", ""]);
  expect(() => expandCompactArgs(["a=1,oops"])).toThrow('"oops": expected name=value');
});
