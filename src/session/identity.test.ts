import { expect, test } from "bun:test";
import { findAccount, remoteAddress, sessionPort, softNofile } from "./identity";

test("accounts by name or uid from passwd text", () => {
  const passwd = "root:x:0:0:root:/root:/bin/bash\nalice:x:1001:1001:Alice,,,:/home/alice:/usr/bin/tacacs-session\n";
  expect(findAccount(passwd, "alice")).toEqual({ name: "alice", uid: 1001, gid: 1001, home: "/home/alice", shell: "/usr/bin/tacacs-session" });
  expect(findAccount(passwd, 0)?.name).toBe("root");
  expect(findAccount(passwd, "bob")).toBeUndefined();
});

test("port from the terminal on stdin, else SSH_TTY; remote address from SSH, else PAM", () => {
  expect(sessionPort({}, () => "/dev/pts/3")).toBe("pts/3");
  expect(sessionPort({ SSH_TTY: "/dev/pts/9" }, () => "pipe:[123]")).toBe("pts/9");
  expect(sessionPort({}, () => {
    throw new Error("no stdin");
  })).toBe("");
  expect(remoteAddress({ SSH_CONNECTION: "192.0.2.7 51234 192.0.2.1 22" })).toBe("192.0.2.7");
  expect(remoteAddress({ SSH_CLIENT: "2001:db8::7 51234 22" })).toBe("2001:db8::7");
  expect(remoteAddress({ PAM_RHOST: "host.example" })).toBe("host.example");
  expect(remoteAddress({})).toBe("");
});

test("the soft fd limit of a /proc/PID/limits text", () => {
  const limits = "Limit                     Soft Limit           Hard Limit           Units\nMax open files            1024                 524288               files\n";
  expect(softNofile(limits)).toBe(1024);
  expect(softNofile("Max open files            unlimited            unlimited            files\n")).toBeUndefined();
});
