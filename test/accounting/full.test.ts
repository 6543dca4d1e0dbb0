/**
 * A full spool (issue 15, tiny --accounting-spool-max-bytes): refusals are clean retriable errors
 * naming the limit, nothing accepted is lost, authentication keeps being served; and the
 * --accounting-log journal copy has one line per accepted record (queued or delivered).
 */
import { afterAll, expect, test } from "bun:test";
import { join } from "node:path";
import { startAgent } from "../support/agent-process";
import { startTacacsServer } from "../support/tacacs-server";
import { SECRET, sendThroughApi, spoolDirectory, waitForRecords, type Outcome } from "./harness";

const cleanups: (() => unknown)[] = [];
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

test("a full spool refuses new records with a retriable error; accepted ones are delivered; authentication goes on", async () => {
  const server = await startTacacsServer({ key: SECRET, faults: { refuse: true } });
  cleanups.push(() => server.stop());
  const dirs = spoolDirectory();
  cleanups.push(dirs.cleanup);
  const agent = await startAgent(
    ["--server-addr", `127.0.0.1:${server.port}`, "--shared-secret", SECRET, "--accounting-spool-dir", dirs.spool, "--accounting-spool-max-bytes", "65536", "--accounting-log", "--metrics-endpoint", join(dirs.root, "metrics.sock")],
    {},
    { dir: dirs.root },
  );
  cleanups.push(() => agent.stop());

  const outcomes = new Map<string, Outcome>();
  await sendThroughApi(agent.socket, "full", 8, 150, outcomes);
  const queued = [...outcomes].filter(([, outcome]) => outcome === "queued").map(([id]) => id);
  const refused = [...outcomes.values()].filter((outcome) => outcome === "refused").length;
  expect(queued.length).toBeGreaterThan(300);
  expect(refused).toBe(outcomes.size - queued.length);
  expect(refused).toBeGreaterThan(0);

  const refusal = await agent.tacon(["--user", "audit15", "accounting", "one more"]);
  expect(refusal.exit).toBe(3);
  expect(refusal.stderr).toContain("accounting spool is full (--accounting-spool-max-bytes 65536)");
  expect(refusal.stderr).toContain("retriable");
  expect(agent.output()).toContain("is full (--accounting-spool-max-bytes 65536");
  expect((await agent.tacon(["status"])).stdout).toMatch(new RegExp(`accounting spool: ${queued.length} records, \\d+ of 65536 bytes`));
  const metrics = await (await fetch("http://localhost/metrics", { unix: join(dirs.root, "metrics.sock") })).text();
  expect(metrics).toMatch(new RegExp(`^tacacsrs_accounting_spool_records ${queued.length}$`, "m"));
  expect(metrics).toMatch(new RegExp(`^tacacsrs_accounting_spool_refused_full(_total)? ${refused + 1}$`, "m"));

  // The server comes back: authentication is answered while the backlog drains.
  server.setFaults({ refuse: false });
  const login = await agent.tacon(["--user", "alice", "--port", "tty15", "authentication"], { TACON_PASSWORD: "alicepw" });
  expect(login.exit).toBe(0);
  const ids = await waitForRecords([server], (ids) => ids.filter((id) => id.startsWith("full-")).length >= queued.length, 30_000);
  const delivered = ids.filter((id) => id.startsWith("full-"));
  expect(delivered.length).toBe(queued.length);
  expect(new Set(delivered)).toEqual(new Set(queued));

  // The journal copy: one line per accepted record, queued ones and a live delivered one.
  const live = await agent.tacon(["--user", "audit15", "--task-id", "live-15", "accounting", "show clock"]);
  expect(live.stdout).toContain("SUCCESS");
  await Bun.sleep(100);
  const lines = agent.output().split("\n").filter((line) => line.startsWith("accounting {"));
  const journal = lines.map((line) => JSON.parse(line.slice("accounting ".length)));
  expect(journal.filter((entry) => entry.outcome === "queued")).toHaveLength(queued.length);
  expect(journal.find((entry) => entry.task_id === "live-15")).toMatchObject({
    user: "audit15",
    flags: "stop",
    outcome: "delivered",
    server: `127.0.0.1:${server.port}`,
    args: expect.arrayContaining(["service=shell", "cmd=show", "cmd-arg=clock", "task_id=live-15"]),
  });
}, 60_000);
