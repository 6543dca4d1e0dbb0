import { expect, test } from "bun:test";
import { closeSync, mkdtempSync, openSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { colourAllowed, formatEntry, stderrIsJournal, stripColour, type LogEntry } from "./log-format";
import { REPEAT_WINDOW_MS, RepeatFilter } from "./log-repeats";

const entry = (level: number, ...args: unknown[]): LogEntry => ({ level, tag: "upstream", args, date: new Date("2026-12-03T10:00:00.000Z") });

test("journal lines carry the sd-daemon priority, no colour and no time stamp", () => {
  const journal = { format: "text", journal: true, colour: true } as const;
  expect(formatEntry(entry(0, "cannot connect"), journal)).toBe("<3>[upstream] cannot connect");
  expect(formatEntry(entry(1, "failover: A → B"), journal)).toBe("<4>[upstream] failover: A → B");
  expect(formatEntry(entry(3, "listening"), journal)).toBe("<6>[upstream] listening");
  expect(formatEntry(entry(4, "debug"), journal)).toBe("<7>[upstream] debug");
  expect(formatEntry(entry(5, "trace"), journal)).toBe("<7>[upstream] trace");
});

test("json lines: time, level, component, message and the fields of plain-object arguments", () => {
  const line = formatEntry(entry(1, "server failed", { server: "tacacs1", sessionId: 42 }), { format: "json", journal: false, colour: true });
  expect(JSON.parse(line)).toEqual({ time: "2026-12-03T10:00:00.000Z", level: "warning", component: "upstream", message: "server failed", server: "tacacs1", sessionId: 42 });
  expect(formatEntry(entry(0, "x"), { format: "json", journal: true, colour: false }).startsWith('<3>{"time"')).toBe(true);
});

test("text lines: colour only when allowed (a terminal, no NO_COLOR, not TERM=dumb)", () => {
  expect(formatEntry(entry(1, "w"), { format: "text", journal: false, colour: false })).toBe("[upstream] warning: w");
  expect(formatEntry(entry(1, "w"), { format: "text", journal: false, colour: true })).toContain("\u001b[33m");
  expect(colourAllowed({ isTTY: true }, {})).toBe(true);
  expect(colourAllowed({ isTTY: true }, { NO_COLOR: "1" })).toBe(false);
  expect(colourAllowed({ isTTY: true }, { TERM: "dumb" })).toBe(false);
  expect(colourAllowed({ isTTY: false }, {})).toBe(false);
  expect(colourAllowed({}, {})).toBe(false);
  expect(stripColour("\u001b[4m\u001b[1mUSAGE\u001b[22m\u001b[24m")).toBe("USAGE");
});

test("stderr is the journal only when JOURNAL_STREAM names its device and inode", () => {
  const dir = mkdtempSync(join(tmpdir(), "tacacsrs-log16-"));
  const fd = openSync(join(dir, "stream"), "w");
  try {
    const { dev, ino } = statSync(join(dir, "stream"), { bigint: true });
    expect(stderrIsJournal({ JOURNAL_STREAM: `${dev}:${ino}` }, fd)).toBe(true);
    expect(stderrIsJournal({ JOURNAL_STREAM: `${dev}:${ino + 1n}` }, fd)).toBe(false);
    expect(stderrIsJournal({}, fd)).toBe(false);
    expect(stderrIsJournal({ JOURNAL_STREAM: "garbage" }, fd)).toBe(false);
  } finally {
    closeSync(fd);
    rmSync(dir, { recursive: true, force: true });
  }
});

test("repeated identical lines: the first passes, the rest of the window is counted and summarized once", () => {
  let now = 0;
  const timers: (() => void)[] = [];
  const summaries: [string, number][] = [];
  const filter = new RepeatFilter({ now: () => now, setTimer: (fn) => timers.push(fn) }, (key, held) => summaries.push([key, held]));
  expect(filter.pass("a")).toBe(true);
  expect(filter.pass("b")).toBe(true);
  for (let i = 0; i < 5; i++) expect(filter.pass("a")).toBe(false);
  now = REPEAT_WINDOW_MS;
  for (const fire of timers.splice(0)) fire();
  expect(summaries).toEqual([["a", 5]]);
  expect(filter.held).toBe(5);
  expect(filter.pass("a")).toBe(true); // a new window
  expect(filter.pass("a")).toBe(false);
  filter.reset(); // a reload: the held line is summarized now, and the next one is news
  expect(summaries).toEqual([["a", 5], ["a", 1]]);
  expect(filter.pass("a")).toBe(true);
  for (const fire of timers.splice(0)) fire();
  expect(summaries).toHaveLength(2);
});
