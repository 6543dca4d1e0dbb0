import { expect, test } from "bun:test";
import { currentAuditSession, NoAuditSession } from "./audit-session";

const files = (sessionid: string, loginuid: string) => (path: string) => (path.endsWith("sessionid") ? sessionid : loginuid);

test("the session id and login uid of /proc/self", () => {
  expect(currentAuditSession(files("42\n", "61022"))).toEqual({ sessionId: 42, loginUid: 61022 });
});

test("unset (4294967295), garbage or unreadable files are a clear error", () => {
  expect(() => currentAuditSession(files("4294967295", "1000"))).toThrow(NoAuditSession);
  expect(() => currentAuditSession(files("42", "4294967295"))).toThrow("/proc/self/loginuid is unset");
  expect(() => currentAuditSession(files("x", "1000"))).toThrow("/proc/self/sessionid is unset");
  expect(() =>
    currentAuditSession(() => {
      throw new Error("ENOENT");
    }),
  ).toThrow("cannot read /proc/self/sessionid (ENOENT)");
});
