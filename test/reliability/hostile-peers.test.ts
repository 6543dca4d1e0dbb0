/**
 * Issue 19: fairness per peer. One local user (a temporary system user, its own uid on the Unix
 * socket) opens 520 connections, completes a request on each (so none is evictable), and holds
 * 64 × 20 never-ending calls. The old agent gave it every slot: all 512 connections (new callers
 * were refused) and all 1,024 calls (RESOURCE_EXHAUSTED for everybody else). Now one peer gets
 * at most half of each (--max-api-connections-per-peer 256, --max-api-streams-per-peer 512), and
 * a checker as root keeps succeeding. Agent RSS bound: +128 MiB.
 */
import { afterEach, expect, test } from "bun:test";
import { chmodSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startAgent } from "../support/agent-process";
import { rssKiB, startChecker, successRate } from "../support/hostile-client";
import { createSystemUser, systemUserUnavailable } from "../support/system-user";
import { startTacacsServer } from "../support/tacacs-server";

const SECRET = "hostile-peers-19";
const ATTACKER = "tacacsrs-t19peer";
const CONNECTIONS = 520;
const HOLDERS = 64;
const STREAMS = 20;
const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await Promise.resolve(cleanup()).catch(() => {});
});

const unavailable = systemUserUnavailable() ?? (Bun.which("setpriv") ? undefined : "setpriv is missing (Debian package util-linux)");
if (unavailable && process.env.CI === "true") throw new Error(`hostile-peers: ${unavailable} (required in CI; see .ci/run)`);
if (unavailable) console.warn(`hostile-peers: skipped, ${unavailable}`);

interface AttackReport {
  connections: number;
  refused: number;
  held: number;
  attempted: number;
}

test.skipIf(unavailable !== undefined)("one uid with 520 connections and 1,280 never-ending calls leaves root's calls working", async () => {
  const user = await createSystemUser(ATTACKER);
  cleanups.push(() => user.remove());
  const server = await startTacacsServer({ key: SECRET });
  cleanups.push(() => server.stop());
  // The attacker may reach the socket (it is a local user like any other).
  const dir = mkdtempSync(join(tmpdir(), "hostile-peers-19-"));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  chmodSync(dir, 0o711);
  const metrics = join(dir, "metrics.sock");
  const agent = await startAgent(["--server-addr", `127.0.0.1:${server.port}`, "--socket-mode", "666", "--metrics-endpoint", metrics, "-v"], { TACACSRS_SHARED_SECRET: SECRET }, { dir });
  cleanups.push(() => agent.stop());
  const before = rssKiB(agent.process.pid);

  const gid = Number((await Bun.$`id -g ${ATTACKER}`.text()).trim());
  const attacker = Bun.spawn(
    ["setpriv", `--reuid=${user.uid}`, `--regid=${gid}`, "--clear-groups", "--", process.execPath, join(import.meta.dir, "peer-attacker.ts"), agent.socket, String(CONNECTIONS), String(HOLDERS), String(STREAMS)],
    { env: { PATH: process.env.PATH ?? "", HOME: user.home, BUN_RUNTIME_TRANSPILER_CACHE_PATH: "0" }, stdout: "pipe", stderr: "pipe" },
  );
  cleanups.push(() => attacker.kill("SIGKILL"));
  const line = await readLine(attacker.stdout, 20_000);
  if (line === undefined) throw new Error(`the attacker reported nothing: ${await new Response(attacker.stderr).text()}`);
  const report = JSON.parse(line) as AttackReport;

  const checker = startChecker({ kind: "unix", path: agent.socket });
  await Bun.sleep(3000);
  const result = await checker.stop();
  const grown = rssKiB(agent.process.pid) - before;
  console.log(
    `hostile peer: ${report.connections} connections kept, ${report.refused} refused; ${report.held} of ${report.attempted} calls held; ` +
      `agent RSS +${Math.round(grown / 1024)} MiB; checker ${result.ok} ok / ${result.failed} failed ${result.errors.slice(0, 2).join("; ")}`,
  );
  expect(successRate(result)).toBeGreaterThanOrEqual(0.95);
  expect(result.ok).toBeGreaterThan(10);
  // Half of --max-api-connections (512) and of --max-api-streams (1024) for this uid, no more.
  expect(report.connections).toBe(256);
  expect(report.held).toBeLessThanOrEqual(512);
  expect(report.held).toBeGreaterThan(400);
  expect(grown).toBeLessThan(128 * 1024);
  const scraped = await (await fetch("http://localhost/metrics", { unix: metrics } as RequestInit)).text();
  expect(scraped).toContain(`tacacsrs_api_http2_refusals_total{reason="peerConnectionsRefused"} ${CONNECTIONS - 256}`);
  expect(scraped).toMatch(/tacacsrs_api_call_refusals_total\{reason="peerCallsRefused"\} [1-9]/);
  // The attacker's uid, and root while a checker connection is still closing.
  expect(scraped).toMatch(/\ntacacsrs_api_peers [12]\n/);
  expect(agent.output()).toContain(`uid ${user.uid} has 256 open connections (--max-api-connections-per-peer 256)`);
}, 30_000);

/** The first line of `stream`, or undefined if none came within `ms`. */
async function readLine(stream: ReadableStream<Uint8Array>, ms: number): Promise<string | undefined> {
  const reader = stream.getReader();
  let text = "";
  const deadline = Date.now() + ms;
  while (!text.includes("\n") && Date.now() < deadline) {
    const chunk = await Promise.race([reader.read(), Bun.sleep(deadline - Date.now()).then(() => undefined)]);
    if (chunk === undefined || chunk.done) break;
    text += new TextDecoder().decode(chunk.value);
  }
  reader.releaseLock();
  return text.includes("\n") ? text.slice(0, text.indexOf("\n")) : undefined;
}
