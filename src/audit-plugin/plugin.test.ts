import { expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { AuditPlugin, RETRY_PAUSE_MS, type AgentApi, type PluginOptions } from "./plugin";
import { parseAccounts } from "./sessions";

const FIXTURE = readFileSync(new URL("../../test/fixtures/audit/exec-records.txt", import.meta.url));
/** Execs and exit_group events of one session (ses 46): cat, setpriv → sh, true, sh -c 'exit 7'. */
const EXITS = readFileSync(new URL("../../test/fixtures/audit/exit-records.txt", import.meta.url));
const OPTIONS: PluginOptions = { key: "tacacsrs-capture-22", fallback: { minUid: undefined, group: undefined }, maxQueue: 100, concurrency: 4, callTimeoutMs: 1000, records: "stop" };
const SESSION = { sessionId: 1, loginUid: 61122, user: "tacuser", port: "pts/7", remoteAddress: "192.0.2.5", privilegeLevel: 15, taskBase: "ssh-1", registeredAtMs: 0 };

class FakeAgent implements AgentApi {
  readonly accounting: Record<string, unknown>[] = [];
  readonly reports: Record<string, unknown>[] = [];
  unreachable = 0;
  answer: Record<string, unknown> = { result: "response", response: { status: "ACCOUNTING_STATUS_SUCCESS" } };

  async call(method: string, request: object): Promise<Record<string, unknown>> {
    await Bun.sleep(0);
    if (this.unreachable > 0) {
      this.unreachable--;
      throw Object.assign(new Error("cannot reach the agent"), { unreachable: true });
    }
    if (method === "LookupAuditSession") {
      const { sessionId, loginUid } = request as { sessionId: number; loginUid: number };
      return [SESSION.sessionId, 46].includes(sessionId) && loginUid === SESSION.loginUid ? { found: true, session: SESSION } : { found: false };
    }
    if (method === "ReportAuditPlugin") {
      this.reports.push(request as Record<string, unknown>);
      return {};
    }
    this.accounting.push(request as Record<string, unknown>);
    return this.answer;
  }
}

function plugin(agent: AgentApi, options: Partial<PluginOptions> = {}) {
  const log: string[] = [];
  const p = new AuditPlugin(agent, parseAccounts("", ""), { ...OPTIONS, ...options }, (line) => log.push(line));
  return { p, log };
}

test("each successful exec of a registered session becomes one accounting record", async () => {
  const agent = new FakeAgent();
  const { p, log } = plugin(agent);
  // In odd-sized chunks, as a pipe delivers them.
  for (let i = 0; i < FIXTURE.length; i += 777) p.read(FIXTURE.subarray(i, i + 777));
  await p.finish(2000);
  expect(agent.accounting.map((r) => [r.command, (r.commandArguments as string[]).length])).toEqual([
    ["cat", 1],
    ["setpriv", 6],
    ["/bin/sh", 2],
    ["/bin/true", 2],
    ["/bin/echo", 5],
    ["/bin/echo", 1],
    ["/bin/echo", 251],
    ["/bin/sh", 2],
  ]);
  expect(agent.accounting[3]).toMatchObject({ user: "tacuser", port: "pts/7", remoteAddress: "192.0.2.5", taskId: "ssh-1-14", privilegeLevel: 15, commandArguments: ["plain", "words"] });
  expect(p.counters()).toEqual({ recordsRead: 127, eventsRead: 17, accounted: 8, skipped: 9, malformed: 0, dropped: 0, failed: 0, queueDepth: 0, tasksTracked: 0, tasksEvicted: 0 });
  expect(log).toEqual([]);
  await p.report();
  expect(agent.reports[0]).toMatchObject({ accounted: 8, recordsRead: 127 });
});

test("a full queue drops events and counts them; reading never waits for the agent", async () => {
  const agent = new FakeAgent();
  const { p, log } = plugin(agent, { maxQueue: 2, concurrency: 1 });
  p.read(FIXTURE);
  const counters = p.counters();
  expect(counters.dropped).toBeGreaterThan(0);
  expect(counters.eventsRead).toBe(17);
  await p.finish(2000);
  expect(p.counters().accounted + p.counters().dropped).toBe(8);
  expect(log.filter((line) => line.includes("queue full")).length).toBe(1);
});

test("an unreachable agent: events are kept and sent once it answers", async () => {
  const agent = new FakeAgent();
  agent.unreachable = 2;
  const { p, log } = plugin(agent, { concurrency: 1 });
  const started = Date.now();
  p.read(FIXTURE);
  await p.finish(RETRY_PAUSE_MS * 5);
  expect(Date.now() - started).toBeGreaterThanOrEqual(RETRY_PAUSE_MS * 0.9);
  expect(p.counters()).toMatchObject({ accounted: 8, failed: 0, dropped: 0 });
  expect(log[0]).toContain("retrying");
});

test("an error reply from the agent counts as failed, with a rate-limited log line", async () => {
  const agent = new FakeAgent();
  agent.answer = { result: "error", error: { message: "no server answered", server: "", retriable: true } };
  const { p, log } = plugin(agent);
  p.read(FIXTURE);
  await p.finish(2000);
  expect(p.counters()).toMatchObject({ accounted: 0, failed: 8 });
  expect(log.length).toBe(1);
  expect(log[0]).toContain("no server answered");
});

test("malformed input is counted, logged once per interval, and never stops the plugin", async () => {
  const agent = new FakeAgent();
  const { p, log } = plugin(agent);
  p.read(new TextEncoder().encode("garbage\n".repeat(100) + `${"A".repeat(70_000)}\n`));
  p.read(FIXTURE);
  await p.finish(2000);
  expect(p.counters()).toMatchObject({ malformed: 101, accounted: 8 });
  expect(log.length).toBe(2);
});

test("records=start-stop: a START per exec, and a STOP with its task_id when the process exits or execs again", async () => {
  const agent = new FakeAgent();
  const { p, log } = plugin(agent, { records: "start-stop" });
  p.read(EXITS);
  await p.finish(2000);
  const summary = agent.accounting.map((r) => `${r.recordType === "ACCOUNTING_RECORD_TYPE_START" ? "START" : "STOP"} ${r.taskId} ${r.command}${r.stopTime ? " stopped" : ""}`);
  expect(summary.sort()).toEqual(
    [
      "START ssh-1-3634 cat",
      "STOP ssh-1-3634 cat stopped",
      "START ssh-1-3644 setpriv",
      // setpriv ended when its process exec'd the shell.
      "STOP ssh-1-3644 setpriv stopped",
      "START ssh-1-3645 /bin/sh",
      "STOP ssh-1-3645 /bin/sh stopped",
      "START ssh-1-3646 /bin/true",
      "STOP ssh-1-3646 /bin/true stopped",
      "START ssh-1-3648 /bin/sh",
      "STOP ssh-1-3648 /bin/sh stopped",
    ].sort(),
  );
  const stop = agent.accounting.find((r) => r.taskId === "ssh-1-3646" && r.stopTime)!;
  expect(stop).toMatchObject({ user: "tacuser", commandArguments: ["x"], startTime: 1796288768, stopTime: 1796288768 });
  // Each exit event was accounted (as a STOP); the exec-replaced STOP is not an event of its own.
  expect(p.counters()).toMatchObject({ accounted: 10, failed: 0, dropped: 0, tasksTracked: 0 });
  expect(log).toEqual([]);
});

test("records=stop (the default): exit events are read and skipped, one STOP per exec", async () => {
  const agent = new FakeAgent();
  const { p } = plugin(agent);
  p.read(EXITS);
  await p.finish(2000);
  expect(agent.accounting.map((r) => r.recordType)).toEqual(Array(5).fill("ACCOUNTING_RECORD_TYPE_STOP"));
  expect(agent.accounting.every((r) => r.stopTime === undefined)).toBe(true);
});

test("a command that was not accounted gets no STOP", async () => {
  const agent = new FakeAgent();
  agent.answer = { result: "error", error: { message: "no server answered", server: "", retriable: true } };
  const { p } = plugin(agent, { records: "start-stop" });
  p.read(EXITS);
  await p.finish(2000);
  expect(agent.accounting.map((r) => r.recordType)).toEqual(Array(5).fill("ACCOUNTING_RECORD_TYPE_START"));
  expect(p.counters()).toMatchObject({ accounted: 0, failed: 5, tasksTracked: 0 });
});
