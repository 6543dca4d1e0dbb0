import { expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { AuditPlugin, RETRY_PAUSE_MS, type AgentApi, type PluginOptions } from "./plugin";
import { parseAccounts } from "./sessions";

const FIXTURE = readFileSync(new URL("../../test/fixtures/audit/exec-records.txt", import.meta.url));
const OPTIONS: PluginOptions = { key: "tacacsrs-capture-22", fallback: { minUid: undefined, group: undefined }, maxQueue: 100, concurrency: 4, callTimeoutMs: 1000 };
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
      return sessionId === SESSION.sessionId && loginUid === SESSION.loginUid ? { found: true, session: SESSION } : { found: false };
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
  expect(p.counters()).toEqual({ recordsRead: 127, eventsRead: 17, accounted: 8, skipped: 9, malformed: 0, dropped: 0, failed: 0, queueDepth: 0 });
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
