/**
 * Fan-out (issue 15): three collectors, one down for a while. Every accounting record (API and
 * proxy) goes to each collector; the callers get the preferred collector's answer; the one that
 * was down gets what it missed from its own spool once back, in order; each ends with every
 * record exactly once. Authentication keeps the ordered failover (only the first server sees it).
 */
import { afterAll, expect, test } from "bun:test";
import { join } from "node:path";
import { AGENT, startAgent } from "../support/agent-process";
import { startTacacsServer, type TestServer } from "../support/tacacs-server";
import { orderViolation, SECRET, sendThroughApi, sendThroughProxy, spoolDirectory, taskIdOf, waitForRecords, writeYangConfig, type Outcome } from "./harness";

const cleanups: (() => unknown)[] = [];
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

test("three collectors, one down for a while: each ends with every record once, in order", async () => {
  const servers: TestServer[] = [];
  for (let i = 0; i < 3; i++) {
    const server = await startTacacsServer({ key: SECRET, faults: { refuse: i === 2 } });
    cleanups.push(() => server.stop());
    servers.push(server);
  }
  const dirs = spoolDirectory();
  cleanups.push(dirs.cleanup);
  const proxy = join(dirs.root, "proxy.sock");
  const agent = await startAgent(
    [
      ...servers.flatMap((server) => ["--server-addr", `127.0.0.1:${server.port}`]),
      "--shared-secret", SECRET, "--proxy-endpoint", proxy, "--accounting-spool-dir", dirs.spool, "--accounting-fan-out", "all", "--connect-timeout-seconds", "1",
    ],
    {},
    { dir: dirs.root },
  );
  cleanups.push(() => agent.stop());

  const outcomes = new Map<string, Outcome>();
  await Promise.all([sendThroughApi(agent.socket, "fan", 8, 75, outcomes), sendThroughProxy({ kind: "unix", path: proxy }, "fanproxy", 4, 25, outcomes)]);
  expect([...outcomes.values()].every((outcome) => outcome === "delivered")).toBe(true);
  expect(outcomes.size).toBe(700);
  expect(servers[0]!.records.length).toBe(700);
  expect(servers[1]!.records.length).toBe(700);
  expect(servers[2]!.records.length).toBe(0);
  const login = await agent.tacon(["--user", "alice", "--port", "tty15", "authentication"], { TACON_PASSWORD: "alicepw" });
  expect(login.exit).toBe(0);
  expect(servers.map((server) => server.counters.packetsByType.authentication)).toEqual([1, 0, 0]);

  servers[2]!.setFaults({ refuse: false });
  await waitForRecords([servers[2]!], (ids) => ids.length >= 700, 30_000);
  for (const server of servers) {
    const ids = server.records.map(taskIdOf);
    expect(ids.length).toBe(700);
    expect(new Set(ids)).toEqual(new Set(outcomes.keys()));
    expect(orderViolation(server)).toBeUndefined();
  }
  expect(servers[2]!.records.every((record) => record.args.some((arg) => arg.name === "stop_time"))).toBe(true);
  expect((await agent.tacon(["status"])).stdout).toContain("accounting spool: 0 records");
}, 60_000);

test("--accounting-fan-out names servers that exist, else exit 2 with one line", () => {
  const run = (value: string) =>
    Bun.spawnSync([AGENT, "--server-addr", "127.0.0.1:4915", "--server-addr", "127.0.0.1:4916", "--accounting-fan-out", value, "--check-config", "--print-config"], { env: { PATH: process.env.PATH ?? "" } });
  const good = run("127.0.0.1:4916,127.0.0.1:4915");
  expect(good.exitCode).toBe(0);
  expect(JSON.parse(good.stdout.toString().replace("configuration OK\n", "")).accounting.fanOut).toEqual(["127.0.0.1:4915", "127.0.0.1:4916"]);
  const bad = run("127.0.0.1:4917");
  expect(bad.exitCode).toBe(2);
  expect(bad.stderr.toString()).toBe('tacacsrs-agentd: --accounting-fan-out: no server is named "127.0.0.1:4917" (servers: 127.0.0.1:4915, 127.0.0.1:4916)\n');
});

test("collectors named in the YANG document (tacacsrs-agentd:accounting-fan-out) each get every record; the others none", async () => {
  const servers: TestServer[] = [];
  for (let i = 0; i < 3; i++) {
    const server = await startTacacsServer({ key: SECRET });
    cleanups.push(() => server.stop());
    servers.push(server);
  }
  const dirs = spoolDirectory();
  cleanups.push(dirs.cleanup);
  const config = writeYangConfig(join(dirs.root, "fan-out-15.json"), servers.map((server, index) => ({ name: `collector-${index}`, port: server.port, collector: index !== 1 })));
  const agent = await startAgent(["--config", config, "--accounting-spool-dir", dirs.spool], {}, { dir: dirs.root });
  cleanups.push(() => agent.stop());
  const outcomes = new Map<string, Outcome>();
  await sendThroughApi(agent.socket, "yang", 2, 20, outcomes);
  expect([...outcomes.values()].every((outcome) => outcome === "delivered")).toBe(true);
  expect(servers.map((server) => server.records.length)).toEqual([40, 0, 40]);
  expect(orderViolation(servers[2]!)).toBeUndefined();
  // The flag and the document cannot both name them.
  const both = Bun.spawnSync([AGENT, "--config", config, "--accounting-fan-out", "all", "--check-config"], { env: { PATH: process.env.PATH ?? "" } });
  expect(both.exitCode).toBe(2);
  expect(both.stderr.toString()).toBe("tacacsrs-agentd: --accounting-fan-out: the --config document names the collectors (tacacsrs-agentd:accounting-fan-out); name them in one place\n");
}, 30_000);
