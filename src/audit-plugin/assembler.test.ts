import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { EventAssembler, type Problem } from "./assembler";
import type { ExecEvent } from "./exec-event";

/** Real records from this kind of machine's auditd: scripts/audit/capture-fixtures.ts. */
const FIXTURE = readFileSync(new URL("../../test/fixtures/audit/exec-records.txt", import.meta.url), "utf8").split("\n").filter(Boolean);
const KEY = "tacacsrs-capture-22";

function assemble(lines: string[], key: string | null = KEY, limits = { maxPending: 64, maxAgeMs: 10_000 }) {
  const events: ExecEvent[] = [];
  const problems: [Problem, string][] = [];
  const assembler = new EventAssembler({ key: key ?? undefined, ...limits }, { event: (e) => events.push(e), problem: (kind, reason) => problems.push([kind, reason]) });
  for (const line of lines) assembler.push(line);
  assembler.flush();
  return { events, problems, assembler };
}

const text = (event: ExecEvent) => event.args.map((arg) => new TextDecoder().decode(arg.bytes));
const bySerial = (events: ExecEvent[], serial: number) => events.find((e) => e.serial === serial)!;
/** The records of one event of the fixture. */
const recordsOf = (serial: number) => FIXTURE.filter((line) => line.includes(`:${serial}):`));

describe("real auditd records", () => {
  const { events, problems, assembler } = assemble(FIXTURE);

  test("every exec event of our key is assembled, nothing is malformed", () => {
    expect(problems).toEqual([]);
    expect(events.filter((e) => e.success).map((e) => e.serial)).toEqual([3, 12, 13, 14, 15, 16, 17, 19]);
    expect(assembler.counters.records).toBe(FIXTURE.length);
  });

  test("who ran it: auid, ses, uid, pid, exe, cwd, time", () => {
    const event = bySerial(events, 14);
    expect(event).toMatchObject({ auid: 61122, ses: 1, uid: 61122, success: true, exe: "/usr/bin/true", cwd: "/tmp", key: KEY, tty: undefined, timeMs: 1796287307824 });
    expect(text(event)).toEqual(["/bin/true", "plain", "words"]);
  });

  test("hex-encoded arguments (space, quote, non-ASCII) are decoded", () => {
    expect(text(bySerial(events, 15))).toEqual(["/bin/echo", "with space", 'quote"d', "tab", "here", "été"]);
  });

  test("a 9,000-byte argument split over several EXECVE records keeps its first bytes and its length", () => {
    const [, long] = bySerial(events, 16).args;
    expect(long!.length).toBe(9000);
    expect(long!.bytes.length).toBe(256);
    expect(new TextDecoder().decode(long!.bytes)).toBe("x".repeat(256));
  });

  test("601 arguments over several EXECVE records: argc is kept, the arguments kept are bounded", () => {
    const event = bySerial(events, 17);
    expect(event.argc).toBe(601);
    expect(event.args.length).toBe(256);
    expect(text(event)[255]).toBe("arg254");
  });

  test("a failed exec has no arguments and success false", () => {
    expect(bySerial(events, 18)).toMatchObject({ success: false, argc: 0, args: [] });
  });

  test("records of other keys, and other record types, are skipped without a problem", () => {
    const other = assemble(FIXTURE, "another-key");
    expect(other.events).toEqual([]);
    expect(other.problems).toEqual([]);
    expect(other.assembler.counters.skipped).toBe(FIXTURE.length);
  });
});

describe("hostile and broken input", () => {
  test("interleaved records of two events are assembled by serial", () => {
    const a = recordsOf(14);
    const b = recordsOf(15);
    const mixed: string[] = [];
    for (let i = 0; i < Math.max(a.length, b.length); i++) mixed.push(...[a[i], b[i]].filter((x): x is string => x !== undefined));
    const { events, problems } = assemble(mixed);
    expect(problems).toEqual([]);
    expect(events.map((e) => [e.serial, text(e)[0]])).toEqual([
      [14, "/bin/true"],
      [15, "/bin/echo"],
    ]);
  });

  test("garbage lines are counted as malformed and do not disturb the events around them", () => {
    const lines = ["", "garbage", "type=SYSCALL msg=audit(abc): x", "\u0000\u0001\u00ff", ...recordsOf(14), "type=EXECVE"];
    const { events, problems } = assemble(lines.filter(Boolean));
    expect(events.map((e) => e.serial)).toEqual([14]);
    expect(problems.map(([kind]) => kind)).toEqual(["malformed", "malformed", "malformed", "malformed"]);
  });

  test("a malformed EXECVE record drops its event with a reason", () => {
    const lines = recordsOf(14).map((line) => (line.startsWith("type=EXECVE") ? line.replace('a1="plain"', "a1=ZZZ") : line));
    const { events, problems } = assemble(lines);
    expect(events).toEqual([]);
    expect(problems).toEqual([["malformed", "event 14: EXECVE record: value is neither quoted nor hex"]]);
  });

  test("an event truncated (a continuation record lost) is incomplete, not accounted with half an argument", () => {
    const lines = recordsOf(16).filter((line) => !line.includes(" a1[1]="));
    const { events, problems } = assemble(lines);
    expect(events).toEqual([]);
    expect(problems).toEqual([["incomplete", "event 16: its arguments are incomplete"]]);
  });

  test("a truncated record line (cut mid-value) is malformed", () => {
    const execve = recordsOf(15).find((line) => line.startsWith("type=EXECVE"))!;
    const lines = recordsOf(15).map((line) => (line === execve ? execve.slice(0, execve.indexOf('a3="tab') + 5) : line));
    const { events, problems } = assemble(lines);
    expect(events).toEqual([]);
    expect(problems[0]![1]).toContain("unterminated quoted value");
  });

  test("an event whose EOE never comes is closed when too old, and the open events are bounded", () => {
    const withoutEoe = recordsOf(14).filter((line) => !line.startsWith("type=EOE"));
    const later = recordsOf(15).map((line) => line.replace("1796287307.828", "1796287399.828"));
    const { events, problems } = assemble([...withoutEoe, ...later]);
    expect(events.map((e) => e.serial)).toEqual([14, 15]);
    expect(problems).toEqual([]);

    const starts = Array.from({ length: 10 }, (_, i) => recordsOf(14)[0]!.replace(":14):", `:${1000 + i}):`));
    const bounded = assemble(starts, KEY, { maxPending: 4, maxAgeMs: 10_000 });
    expect(bounded.assembler.pending).toBe(0);
    // Each SYSCALL without EXECVE closes as a non-exec event: the bound closed the oldest early.
    expect(bounded.events.length).toBe(10);
  });

  test("without a key filter, any SYSCALL event is assembled and non-execs come out without arguments", () => {
    const { events } = assemble(FIXTURE, null);
    expect(events.some((e) => e.serial === 2 && e.argc === 0)).toBe(true);
    expect(events.some((e) => e.serial === 14 && e.argc === 3)).toBe(true);
  });
});

describe("process ends (exit_group)", () => {
  const EXITS = readFileSync(new URL("../../test/fixtures/audit/exit-records.txt", import.meta.url), "utf8").split("\n").filter(Boolean);

  test("real exit_group events carry the process's status; execs have none", () => {
    const { events, problems } = assemble(EXITS);
    expect(problems).toEqual([]);
    const exits = events.filter((e) => e.exitStatus !== undefined).map((e) => [e.serial, e.pid, e.exitStatus]);
    expect(exits).toEqual([
      [3635, 2003, 0],
      [3647, 2004, 0],
      [3649, 2005, 7],
      [3650, 2002, 7],
    ]);
    expect(events.filter((e) => e.args.length > 0).every((e) => e.exitStatus === undefined)).toBe(true);
  });

  test("exit_group is recognised by each architecture's number (aarch64 94), not by x86_64's alone", () => {
    const exit = EXITS.find((line) => line.includes("syscall=231") && line.includes(":3647):"))!;
    const arm = exit.replace("arch=c000003e syscall=231", "arch=c00000b7 syscall=94");
    const notExit = exit.replace("arch=c000003e syscall=231", "arch=c00000b7 syscall=231");
    expect(assemble([arm]).events[0]!.exitStatus).toBe(0);
    expect(assemble([notExit]).events[0]!.exitStatus).toBeUndefined();
  });
});
