import { expect, test } from "bun:test";
import { CUT_MARKER, fitArgument, MAX_KEPT_ARG_BYTES, type CommandArg } from "../protocol/command-args";
import { accountingRequest, type SessionInfo } from "./accounting";
import type { ExecEvent } from "./exec-event";

const SESSION: SessionInfo = { user: "alice", port: "pts/3", remoteAddress: "192.0.2.9", privilegeLevel: 15, taskBase: "ssh-42", registeredAtMs: 0 };

const arg = (text: string): CommandArg => {
  const bytes = new TextEncoder().encode(text);
  return { bytes: bytes.subarray(0, MAX_KEPT_ARG_BYTES), length: bytes.length };
};

const event = (args: string[], argc = args.length): ExecEvent => ({
  serial: 77,
  timeMs: 1_796_287_307_824,
  auid: 61022,
  ses: 42,
  uid: 61022,
  pid: 5,
  ppid: 4,
  tty: "pts3",
  success: true,
  exitStatus: undefined,
  exe: "/usr/bin/ls",
  key: "tacacsrs-exec",
  auidName: undefined,
  cwd: "/tmp",
  argc,
  args: args.map(arg),
});

test("an exec becomes cmd, cmd-args, task_id, start_time and the session's user, tty, address, priv-lvl", () => {
  expect(accountingRequest(event(["ls", "-l", "/etc"]), SESSION)).toEqual({
    user: "alice",
    port: "pts/3",
    remoteAddress: "192.0.2.9",
    command: "ls",
    commandArguments: ["-l", "/etc"],
    recordType: "ACCOUNTING_RECORD_TYPE_STOP",
    taskId: "ssh-42-77",
    startTime: 1_796_287_307,
    privilegeLevel: 15,
  });
});

test("long arguments are cut at the 255-byte argument limit with a marker, on a character boundary", () => {
  const request = accountingRequest(event(["/bin/echo", "x".repeat(9000), "é".repeat(200)]), SESSION);
  const [long, accented] = request.commandArguments as string[];
  expect(long!.endsWith(CUT_MARKER)).toBe(true);
  expect(Buffer.byteLength(`cmd-arg=${long}`)).toBeLessThanOrEqual(255);
  expect(Buffer.byteLength(`cmd-arg=${accented}`)).toBeLessThanOrEqual(255);
  expect(accented!.replace(CUT_MARKER, "")).toMatch(/^é+$/);
  expect(fitArgument(arg("short"), 247)).toBe("short");
});

test("more arguments than a packet carries end with a count of the rest", () => {
  const args = ["/bin/echo", ...Array.from({ length: 300 }, (_, i) => `a${i}`)];
  const request = accountingRequest({ ...event(args.slice(0, 256)), argc: 301 }, SESSION);
  const commandArguments = request.commandArguments as string[];
  // service, cmd, task_id and start_time leave 251 arguments for cmd-arg.
  expect(commandArguments.length).toBe(251);
  expect(commandArguments.at(-1)).toBe("[50 more arguments]");
  expect(commandArguments.at(-2)).toBe("a249");
});

test("without argv[0] the executable names the command", () => {
  expect(accountingRequest(event([""]), SESSION).command).toBe("/usr/bin/ls");
});
