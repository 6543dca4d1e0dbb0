/**
 * Crash (issue 15): the agent is SIGKILLed at random points while a burst is being spooled
 * (servers down), three times, then once more while it replays the backlog (servers up). Every
 * record that got a "queued" answer is delivered; a record is delivered twice only if the kill
 * came while the replay was under way (counted), and a corrupt tail added between runs is
 * reported and truncated.
 */
import { afterAll, expect, test } from "bun:test";
import { appendFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { startAgent, type AgentProcess } from "../support/agent-process";
import { prng } from "../support/prng";
import { startTacacsServer, type TestServer } from "../support/tacacs-server";
import { SECRET, sendThroughApi, spoolDirectory, waitForRecords, type Outcome } from "./harness";

const cleanups: (() => unknown)[] = [];
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

test("SIGKILL during a spooling burst and during replay: every acknowledged record is delivered", async () => {
  const seed = Number(process.env.CRASH_SEED ?? Date.now() % 1_000_000);
  const random = prng(seed);
  const server: TestServer = await startTacacsServer({ key: SECRET, faults: { refuse: true } });
  cleanups.push(() => server.stop());
  const dirs = spoolDirectory();
  cleanups.push(dirs.cleanup);
  const args = ["--server-addr", `127.0.0.1:${server.port}`, "--shared-secret", SECRET, "--accounting-spool-dir", dirs.spool, "--connect-timeout-seconds", "1", "-v"];
  const start = async (waitHealthy = true): Promise<AgentProcess> => {
    const agent = await startAgent(args, {}, { dir: dirs.root, waitHealthy });
    cleanups.push(() => agent.stop());
    return agent;
  };
  const kill = async (agent: AgentProcess) => {
    agent.process.kill("SIGKILL");
    await agent.stop();
  };

  const outcomes = new Map<string, Outcome>();
  for (let round = 0; round < 3; round++) {
    const agent = await start();
    const burst = sendThroughApi(agent.socket, `r${round}`, 32, 1_000, outcomes);
    await Bun.sleep(150 + random() * 600);
    await kill(agent);
    await burst;
  }
  const acknowledged = [...outcomes].filter(([, outcome]) => outcome === "queued").map(([id]) => id);
  expect(acknowledged.length, `seed ${seed}`).toBeGreaterThan(100);

  // A torn write at the end of the newest segment, as a power loss would leave it.
  const newest = readdirSync(dirs.spool).filter((name) => name.endsWith(".seg")).sort().at(-1)!;
  appendFileSync(join(dirs.spool, newest), new Uint8Array([0, 0, 1, 0, 9, 9, 9]));

  server.setFaults({ refuse: false });
  // Not waiting for health: the replay starts at once, and the kill should land in the middle of it.
  const replaying = await start(false);
  // Kill it again part-way through the replay (the records in flight then may come twice).
  const killAt = acknowledged.length * (0.1 + 0.5 * random());
  const until = Date.now() + 30_000;
  while (server.records.length < killAt && Date.now() < until) await Bun.sleep(1);
  await kill(replaying);
  expect(replaying.output()).toMatch(/segment \d+: torn tail at byte \d+, 7 bytes skipped and truncated/);
  const beforeRestart = server.records.length;
  await start();
  const want = new Set(acknowledged);
  const ids = await waitForRecords([server], (ids) => { const got = new Set(ids); return [...want].every((id) => got.has(id)); }, 60_000);
  const seen = new Map<string, number>();
  for (const id of ids) seen.set(id, (seen.get(id) ?? 0) + 1);
  const missing = acknowledged.filter((id) => !seen.has(id));
  const duplicates = [...seen.values()].filter((count) => count > 1).length;
  const unacknowledged = [...seen.keys()].filter((id) => !want.has(id)).length;
  console.log(`crash test (seed ${seed}): ${acknowledged.length} acknowledged, ${beforeRestart} delivered before the last kill, ${duplicates} delivered twice, ${unacknowledged} unacknowledged delivered too`);
  expect(missing, `seed ${seed}`).toEqual([]);
  // Only records in flight when the replaying agent was killed may come twice: at most its window plus a cursor interval's worth.
  expect(duplicates, `seed ${seed}`).toBeLessThanOrEqual(beforeRestart);
}, 150_000);
