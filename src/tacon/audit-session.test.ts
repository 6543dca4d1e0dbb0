import { describe, expect, test } from "bun:test";
import { currentAuditSession, NoAuditSession, registerLogin, unregisterLogin } from "./audit-session";

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

describe("tacon pam: registration of the login's audit session", () => {
  const login = { user: "alice", port: "pts/3", remoteAddress: "192.0.2.7", privilegeLevel: 15, taskBase: "boot-100-200" };
  const ids = { sessionId: 42, loginUid: 1000 };
  const recorder = (fail?: Error) => {
    const calls: [string, object][] = [];
    const call = async (method: string, request: object) => {
      calls.push([method, request]);
      if (fail) throw fail;
      return {};
    };
    return { calls, call };
  };

  test("open_session registers the session with the login's user, tty, address, priv-lvl and task base", async () => {
    const { calls, call } = recorder();
    expect(await registerLogin(call, ids, login)).toBeUndefined();
    expect(calls).toEqual([["RegisterAuditSession", { session: { sessionId: 42, loginUid: 1000, ...login } }]]);
  });

  test("close_session removes only this login's registration (its task base)", async () => {
    const { calls, call } = recorder();
    expect(await unregisterLogin(call, ids, "boot-100-200")).toBeUndefined();
    expect(calls).toEqual([["UnregisterAuditSession", { sessionId: 42, taskBase: "boot-100-200" }]]);
  });

  test("no audit session: nothing to do; ALREADY_EXISTS (sudo inside a login) is expected; other errors are a note", async () => {
    const none = recorder();
    expect(await registerLogin(none.call, undefined, login)).toBeUndefined();
    expect(await unregisterLogin(none.call, undefined, "t")).toBeUndefined();
    expect(none.calls).toEqual([]);
    expect(await registerLogin(recorder(Object.assign(new Error("exists"), { code: 6 })).call, ids, login)).toBeUndefined();
    const denied = await registerLogin(recorder(Object.assign(new Error("registering an audit session needs root"), { code: 7 })).call, ids, login);
    expect(denied).toBe("command accounting: audit session 42 not registered: registering an audit session needs root");
  });
});
