/**
 * Where the agent's CPU goes under load: the agent from source under Bun's sampling profiler,
 * one test server and the 64-caller gRPC load (all separate processes), then the profile's
 * hottest functions.
 *
 *   bun scripts/bench/profile.ts [callers=64] [seconds=8] [upstream=plain|tls]
 *
 * Writes the .cpuprofile (for Chrome DevTools) and a markdown summary to a temp dir it names.
 */
import { mkdtempSync, readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { testPki } from "../../test/support/pki";
import { LOOPBACK, SHARED_SECRET } from "./context";
import { AgentProcess, ServerProcess, cleanupAll, onCleanup, workDir } from "./peers";
import { measureLoad } from "./run-load";

const [callersText = "64", secondsText = "8", upstream = "plain"] = process.argv.slice(2);
const callers = Number(callersText);
const seconds = Number(secondsText);
const out = mkdtempSync(join(tmpdir(), "agentd-profile-"));
const main = new URL("../../src/main.ts", import.meta.url).pathname;

try {
  const pki = await testPki();
  const tls = upstream === "tls";
  const server = await ServerProcess.start(tls ? ["--tls-cert", pki.server.certPath, "--tls-key", pki.server.keyPath] : ["--key", SHARED_SECRET]);
  const socket = join(workDir(), "profiled.sock");
  const servers = ["--server-addr", `${LOOPBACK}:${server.port}`, ...(tls ? ["--use-tls", "--ca-certificate", pki.ca.certPath] : ["--shared-secret", SHARED_SECRET])];
  const agent = Bun.spawn(
    [process.execPath, "--cpu-prof", "--cpu-prof-md", "--cpu-prof-interval=200", "--cpu-prof-dir", out, main, ...servers, "--listen-endpoint", socket],
    { stdin: "ignore", stdout: "ignore", stderr: "inherit" },
  );
  onCleanup(() => agent.kill("SIGKILL"));
  // The source agent needs the same readiness as the compiled one; reuse its health polling.
  const probe = AgentProcess.attach(agent, { kind: "unix", path: socket });
  await probe.waitHealthy(20_000, 20);
  const result = await measureLoad(
    { client: { kind: "grpc", endpoint: { kind: "unix", path: socket }, sessions: 1 }, load: { closed: callers }, warmupMs: 1000, durationMs: seconds * 1000 },
    { agent: agent.pid, server: server.pid },
  );
  agent.kill("SIGTERM");
  await agent.exited;
  console.log(`${callers} callers, ${upstream} upstream: ${result.rps} RPC/s, agent ${result.cpuUsPerRequest.agent} µs CPU per call (profiled, so slower than the compiled agent)`);
  const md = readdirSync(out).find((name) => name.endsWith(".md"));
  if (md) console.log(readFileSync(join(out, md), "utf8").split("\n").slice(0, 50).join("\n"));
  console.log(`\nprofile files: ${out}`);
} finally {
  await cleanupAll();
}
