import { describe, expect, test } from "bun:test";
import { CUT_MARKER } from "../protocol/command-args";
import type { ExecTarget } from "./exec-target";
import { accountingRequest, authorizationRequest, commandWords, shellStatus, type SessionIdentity } from "./requests";

const session: SessionIdentity = { user: "alice", port: "pts/3", remoteAddress: "192.0.2.7", privilegeLevel: 1, authenticationContext: "AUTHORIZATION_AUTHENTICATION_CONTEXT_TACACS_PAP" };
const arg = (text: string, length = Buffer.byteLength(text)) => ({ bytes: new TextEncoder().encode(text), length });
const target = (path: string, args: string[], argc = args.length): ExecTarget => ({ path, args: args.map((a) => arg(a)), argc });

describe("requests of a held exec", () => {
  test("authorization: service=shell, cmd=<absolute path>, one cmd-arg each, the session's identity", () => {
    const request = authorizationRequest(session, target("/usr/bin/ip", ["route", "flush"]));
    expect(request).toMatchObject({ user: "alice", port: "pts/3", remoteAddress: "192.0.2.7", privilegeLevel: 1 });
    expect((request.args as { name: string; value: string }[]).map((a) => `${a.name}=${a.value}`)).toEqual(["service=shell", "cmd=/usr/bin/ip", "cmd-arg=route", "cmd-arg=flush"]);
  });

  test("long arguments are cut with the marker; too many end with a count of the rest", () => {
    const long = "x".repeat(300);
    const { cmd, cmdArgs } = commandWords({ path: `/${"p".repeat(300)}`, args: [arg(long.slice(0, 256), 300)], argc: 1 }, 2);
    expect(Buffer.byteLength(`cmd=${cmd}`)).toBeLessThanOrEqual(255);
    expect(cmd.endsWith(CUT_MARKER)).toBe(true);
    expect(Buffer.byteLength(`cmd-arg=${cmdArgs[0]}`)).toBeLessThanOrEqual(255);
    expect(cmdArgs[0]!.endsWith(CUT_MARKER)).toBe(true);
    const many = commandWords(target("/usr/bin/echo", Array.from({ length: 256 }, (_, i) => String(i)), 1000), 2);
    expect(many.cmdArgs).toHaveLength(253);
    expect(many.cmdArgs.at(-1)).toBe("[748 more arguments]");
  });

  test("accounting START has no stop fields; STOP has stop_time, elapsed_time and the shell status", () => {
    const t = target("/usr/bin/sleep", ["1"]);
    const start = accountingRequest(session, t, "9.x-1", 1_700_000_000_500);
    expect(start).toMatchObject({ recordType: "ACCOUNTING_RECORD_TYPE_START", taskId: "9.x-1", startTime: 1_700_000_000, command: "/usr/bin/sleep", commandArguments: ["1"] });
    expect(start).not.toHaveProperty("commandEnd");
    const stop = accountingRequest(session, t, "9.x-1", 1_700_000_000_500, { stopTimeMs: 1_700_000_002_000, elapsedMs: 1500, status: 0 });
    expect(stop).toMatchObject({ recordType: "ACCOUNTING_RECORD_TYPE_STOP", stopTime: 1_700_000_002, commandEnd: { elapsedTime: 2, exitStatus: 0 } });
    expect(accountingRequest(session, t, "t", 0, { stopTimeMs: 1, elapsedMs: 1, status: undefined }).commandEnd).toEqual({ elapsedTime: 0, exitStatus: -1 });
  });

  test("wait statuses as a shell's $?", () => {
    expect(shellStatus(0)).toBe(0);
    expect(shellStatus(7 << 8)).toBe(7);
    expect(shellStatus(9)).toBe(137);
    expect(shellStatus(0x80 | 11)).toBe(139); // core dumped
  });
});
