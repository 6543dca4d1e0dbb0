/**
 * Fan-out collectors across SIGHUP and restarts (issue 15). A collector is known by its address:
 * renamed in the configuration, it keeps its spool; removed, its spooled records are kept and
 * reported (never re-sent to the other collectors, which have them already), and delivered once
 * a server with that address is a collector again, after a restart too.
 */
import { afterAll, expect, test } from "bun:test";
import { join } from "node:path";
import { startAgent, type AgentProcess } from "../support/agent-process";
import { startTacacsServer, type TestServer } from "../support/tacacs-server";
import { orderViolation, SECRET, sendThroughApi, spoolDirectory, taskIdOf, waitForRecords, writeYangConfig, type Outcome } from "./harness";

const cleanups: (() => unknown)[] = [];
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(50);
  }
}

const logged = (agent: AgentProcess, text: string) => until(`log line "${text}"`, () => agent.output().includes(text));
const status = async (agent: AgentProcess) => (await agent.tacon(["status"])).stdout;

test("SIGHUP: a renamed collector keeps its spool; a removed one's records are kept, reported, and delivered once its address is a collector again (across a restart)", async () => {
  const [a, b] = [await startTacacsServer({ key: SECRET }), await startTacacsServer({ key: SECRET, faults: { refuse: true } })] as [TestServer, TestServer];
  cleanups.push(() => a.stop(), () => b.stop());
  const dirs = spoolDirectory();
  cleanups.push(dirs.cleanup);
  const config = join(dirs.root, "reload-15.json");
  const write = (names: string[]) => writeYangConfig(config, names.map((name, index) => ({ name, port: [a, b][index]!.port, collector: true })));
  const start = async () => {
    const agent = await startAgent(["--config", config, "--accounting-spool-dir", dirs.spool, "--connect-timeout-seconds", "1", "-v"], {}, { dir: dirs.root });
    cleanups.push(() => agent.stop());
    return agent;
  };
  const outcomes = new Map<string, Outcome>();

  // b is down: its 30 records wait in its spool.
  write(["a", "b"]);
  let agent = await start();
  await sendThroughApi(agent.socket, "one", 2, 15, outcomes);
  expect(a.records.length).toBe(30);

  // Renamed (same address): the spool follows, b gets the 30 once back.
  write(["a", "b-renamed"]);
  agent.process.kill("SIGHUP");
  await logged(agent, "collector b is now named b-renamed (same address");
  b.setFaults({ refuse: false });
  await waitForRecords([b], (ids) => ids.length >= 30, 15_000);
  expect(b.records.map(taskIdOf).sort()).toEqual(a.records.map(taskIdOf).sort());

  // b answers ERROR: 10 more records wait for it; then it is removed from the configuration.
  b.setFaults({ replyStatus: "error" });
  await sendThroughApi(agent.socket, "two", 2, 5, outcomes);
  expect(a.records.length).toBe(40);
  write(["a"]);
  agent.process.kill("SIGHUP");
  await logged(agent, "b-renamed is no longer a collector; its 10 spooled record(s) are kept in");
  b.setFaults({ replyStatus: undefined });
  await Bun.sleep(1000);
  expect(b.records.length).toBe(30);
  expect(await status(agent)).toContain("orphaned 10 (collectors no longer configured, kept)");

  // A restart keeps them and says so; a collector at b's address (under a third name) gets them.
  await agent.stop();
  agent = await start();
  await logged(agent, "record(s) of a collector that is not configured; kept");
  expect(await status(agent)).toContain("orphaned 10");
  write(["a", "b-third"]);
  agent.process.kill("SIGHUP");
  await waitForRecords([b], (ids) => ids.length >= 40, 15_000);
  expect(b.records.map(taskIdOf).sort()).toEqual(a.records.map(taskIdOf).sort());
  expect(orderViolation(b)).toBeUndefined();
  await until("an empty spool", async () => (await status(agent)).includes("accounting spool: 0 records"));
  expect([...outcomes.values()].every((outcome) => outcome === "delivered")).toBe(true);
}, 60_000);
