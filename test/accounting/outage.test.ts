/**
 * Full outage (issue 15): both upstream servers down, 10,000 records through the API and 1,000
 * through the proxy are queued durably and answered; the servers come back; together they hold
 * every record exactly once, each caller's records in order, each with its original time.
 */
import { afterAll, expect, test } from "bun:test";
import { join } from "node:path";
import { startAgent, type AgentProcess } from "../support/agent-process";
import { startTacacsServer, type TestServer } from "../support/tacacs-server";
import { orderViolation, SECRET, sendThroughApi, sendThroughProxy, spoolDirectory, taskIdOf, waitForRecords, type Outcome } from "./harness";

const cleanups: (() => unknown)[] = [];
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

test("10,000 API + 1,000 proxy records survive an outage of both servers, delivered once, in order, with their time", async () => {
  const servers: TestServer[] = [];
  for (let i = 0; i < 2; i++) {
    const server = await startTacacsServer({ key: SECRET, faults: { refuse: true } });
    cleanups.push(() => server.stop());
    servers.push(server);
  }
  const dirs = spoolDirectory();
  cleanups.push(dirs.cleanup);
  const proxy = join(dirs.root, "proxy.sock");
  const agent: AgentProcess = await startAgent([
    ...servers.flatMap((server) => ["--server-addr", `127.0.0.1:${server.port}`]),
    "--shared-secret", SECRET, "--proxy-endpoint", proxy, "--accounting-spool-dir", dirs.spool, "--connect-timeout-seconds", "1",
  ], {}, { dir: dirs.root });
  cleanups.push(() => agent.stop());

  const before = Math.floor(Date.now() / 1000);
  const outcomes = new Map<string, Outcome>();
  await Promise.all([
    sendThroughApi(agent.socket, "api", 64, Math.ceil(10_000 / 64), outcomes).then(() => undefined),
    sendThroughProxy({ kind: "unix", path: proxy }, "proxy", 10, 100, outcomes),
  ]);
  const after = Math.ceil(Date.now() / 1000);
  const counts = { queued: 0, delivered: 0, refused: 0 };
  for (const outcome of outcomes.values()) counts[outcome]++;
  expect(counts).toEqual({ queued: outcomes.size, delivered: 0, refused: 0 });
  expect(outcomes.size).toBeGreaterThanOrEqual(11_000);
  const status = await agent.tacon(["status"]);
  expect(status.stdout).toContain(`accounting spool: ${outcomes.size} records`);

  for (const server of servers) server.setFaults({ refuse: false });
  const ids = await waitForRecords(servers, (ids) => ids.length >= outcomes.size, 90_000);
  expect(ids.length).toBe(outcomes.size);
  expect(new Set(ids).size).toBe(outcomes.size);
  const delivered = new Set(ids);
  expect([...outcomes.keys()].filter((id) => !delivered.has(id))).toEqual([]);
  for (const server of servers) expect(orderViolation(server)).toBeUndefined();
  for (const record of servers.flatMap((server) => server.records)) {
    const stop = Number(record.args.find((a) => a.name === "stop_time")?.value);
    expect(stop >= before && stop <= after).toBe(true);
  }
  // Drained: the spool is empty and its segment files are gone.
  const drained = await agent.tacon(["status"]);
  expect(drained.stdout).toContain("accounting spool: 0 records, 0 of");
  expect(taskIdOf(servers.flatMap((s) => s.records)[0]!)).toMatch(/^(api|proxy)-/);
}, 150_000);
