import { describe, expect, test } from "bun:test";
import { formatSyslogLine } from "../../common/syslog";
import { AuthtokError, readAuthtok } from "./authtok";
import { pamContext, PamContextError, sessionTaskId } from "./context";
import { logSocketOf, parsePamOptions, PamOptionError } from "./options";

describe("options", () => {
  test("defaults, and each option as name=value (a leading -- is accepted)", () => {
    expect(parsePamOptions([])).toMatchObject({ endpoint: { kind: "unix", path: "/run/tacacs/tacacs.sock" }, login: "pap", service: "shell", protocol: "ssh", privilegeLevel: 1, timeoutMs: 10_000, accounting: "best-effort", logSocket: "/dev/log" });
    const options = parsePamOptions(["service-endpoint=127.0.0.1:9049", "login=ascii", "service=ppp", "protocol=", "privilege-level=15", "--timeout=2.5", "accounting=required", "log-socket=/run/x"]);
    expect(options).toMatchObject({ endpoint: { kind: "tcp", host: "127.0.0.1", port: 9049 }, login: "ascii", service: "ppp", protocol: "", privilegeLevel: 15, timeoutMs: 2_500, accounting: "required", logSocket: "/run/x" });
  });

  test("bad options name themselves", () => {
    const bad = (word: string, message: RegExp) => expect(() => parsePamOptions([word])).toThrow(message);
    bad("sevice=shell", /unknown option "sevice=shell"/);
    bad("debug", /unknown option "debug"/);
    bad("login", /needs a value: login=/);
    bad("login=chap", /login=chap: expected pap or ascii/);
    bad("service=", /service= must not be empty/);
    bad("service=a b", /printable ASCII without spaces/);
    bad("protocol=s*h", /printable ASCII/);
    bad("privilege-level=16", /0 to 15/);
    bad("timeout=0", /0\.1 to 60 seconds/);
    bad("timeout=61", /0\.1 to 60 seconds/);
    bad("timeout=1e3", /expected seconds/);
    bad("accounting=maybe", /best-effort or required/);
    bad("log-socket=dev/log", /absolute path/);
    bad("service-endpoint=10.0.0.1:9049", /not a loopback address/);
    expect(() => parsePamOptions(["login=pap", "login=ascii"])).toThrow(/given twice/);
    expect(() => parsePamOptions(["login=x"])).toThrow(PamOptionError);
  });

  test("the log socket is found even when another option is bad", () => {
    expect(logSocketOf(["bogus", "log-socket=/tmp/l"])).toBe("/tmp/l");
    expect(logSocketOf(["bogus"])).toBe("/dev/log");
  });
});

describe("context", () => {
  const env = { PAM_TYPE: "open_session", PAM_USER: "alice", PAM_SERVICE: "sshd", PAM_TTY: "/dev/pts/3", PAM_RHOST: "192.0.2.1", PAM_RUSER: "" };

  test("pam_exec's variables; /dev/ is dropped from the tty", () => {
    expect(pamContext(env)).toEqual({ phase: "open_session", user: "alice", pamService: "sshd", port: "pts/3", remoteAddress: "192.0.2.1", remoteUser: "" });
    expect(pamContext({ ...env, PAM_TTY: "ssh", PAM_RHOST: undefined })).toMatchObject({ port: "ssh", remoteAddress: "" });
  });

  test("what tacon pam cannot use", () => {
    expect(() => pamContext({ ...env, PAM_TYPE: undefined })).toThrow(/PAM_TYPE is not set/);
    expect(() => pamContext({ ...env, PAM_TYPE: "password" })).toThrow(/cannot change TACACS\+ passwords/);
    expect(() => pamContext({ ...env, PAM_TYPE: "setcred" })).toThrow(/PAM_TYPE=setcred is not a PAM phase/);
    expect(() => pamContext({ ...env, PAM_USER: "" })).toThrow(/PAM_USER is empty/);
    expect(() => pamContext({ ...env, PAM_RHOST: "h".repeat(256) })).toThrow(PamContextError);
  });

  test("task_id: boot id, the parent's pid and start time (a command name with spaces and parentheses)", () => {
    const files: Record<string, string> = {
      "/proc/sys/kernel/random/boot_id": "3f2a9c1d-0b4e-4c1a-9d7e-0123456789ab\n",
      "/proc/4242/stat": "4242 (sshd: alice (priv)) S 1 4242 4242 0 -1 4194560 1 0 0 0 0 0 0 0 20 0 1 0 987654 1 2 3\n",
    };
    expect(sessionTaskId(4242, (path) => files[path]!)).toBe("3f2a9c1d-4242-987654");
    expect(() => sessionTaskId(4242, (path) => (path.includes("stat") ? "4242 (x) S 1" : files[path]!))).toThrow(PamContextError);
  });
});

async function* chunks(...parts: (string | Uint8Array)[]): AsyncIterable<Uint8Array> {
  for (const part of parts) yield typeof part === "string" ? new TextEncoder().encode(part) : part;
}

describe("authtok", () => {
  test("EOF, NUL or newline ends it; a trailing CR is dropped; chunks are wiped", async () => {
    expect((await readAuthtok(chunks("sec", "ret"))).toString()).toBe("secret");
    expect((await readAuthtok(chunks("secret\0"))).toString()).toBe("secret");
    expect((await readAuthtok(chunks("secret\r\nmore"))).toString()).toBe("secret");
    const chunk = new TextEncoder().encode("pw\0");
    await readAuthtok(chunks(chunk));
    expect([...chunk]).toEqual([0, 0, 0]);
  });

  test("empty or longer than PAM_MAX_RESP_SIZE: a clear error", async () => {
    await expect(readAuthtok(chunks())).rejects.toThrow(/expose_authtok/);
    await expect(readAuthtok(chunks("\n"))).rejects.toThrow(AuthtokError);
    await expect(readAuthtok(chunks("x".repeat(300), "y".repeat(300)))).rejects.toThrow(/longer than 512 bytes/);
    expect((await readAuthtok(chunks("x".repeat(512)))).length).toBe(512);
  });
});

test("syslog lines look like glibc's: <PRI>timestamp tag[pid]: message, on one line", () => {
  const line = formatSyslogLine(10, 3, "tacon-pam", 77, "denied\nforged line", new Date(2026, 11, 3, 9, 5, 7));
  expect(line).toBe("<83>Dec  3 09:05:07 tacon-pam[77]: denied forged line");
});
