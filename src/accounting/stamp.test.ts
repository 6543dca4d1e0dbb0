import { describe, expect, test } from "bun:test";
import { AcctFlags, AuthenMethod, AuthenService, AuthenType, decodeAcctRequest, encodeAcctRequest, type Arg } from "../protocol";
import { stampTime } from "./stamp";

const body = (flags: number, args: Arg[]) =>
  encodeAcctRequest({ flags, authenMethod: AuthenMethod.TacacsPlus, privLvl: 1, authenType: AuthenType.Ascii, authenService: AuthenService.Login, user: "alice", port: "tty0", remAddr: "10.0.0.1", args });
const SHELL: Arg[] = [{ name: "service", value: "shell", mandatory: true }];
const at = 1_796_000_000_999;

describe("stampTime", () => {
  test("STOP gets stop_time, START and watchdogs get start_time, in seconds", () => {
    expect(decodeAcctRequest(stampTime(body(AcctFlags.Stop, SHELL), at)).args.at(-1)).toEqual({ name: "stop_time", value: "1796000000", mandatory: true });
    expect(decodeAcctRequest(stampTime(body(AcctFlags.Start, SHELL), at)).args.at(-1)!.name).toBe("start_time");
    expect(decodeAcctRequest(stampTime(body(AcctFlags.Watchdog, SHELL), at)).args.at(-1)!.name).toBe("start_time");
  });

  test("a record that carries its own time keeps it, unchanged", () => {
    const own = body(AcctFlags.Stop, [...SHELL, { name: "start_time", value: "42", mandatory: true }]);
    expect(stampTime(own, at)).toBe(own);
    const rest = decodeAcctRequest(stampTime(body(AcctFlags.Stop, SHELL), at));
    expect(rest).toMatchObject({ user: "alice", port: "tty0", remAddr: "10.0.0.1", flags: AcctFlags.Stop });
  });
});
