/**
 * What the metrics endpoint costs the request path (issue 16): one agent binary twice, A with
 * --metrics-endpoint scraped every second (both formats, alternately), B without; the same
 * 64-caller gRPC load alternates between them, as in ab.ts.
 *   bun scripts/bench/metrics-ab.ts [rounds=4] [seconds=3]
 * Prints RPC/s and agent CPU µs per call for each run, then the medians and the scrape count.
 */
import { join } from "node:path";
import { LOOPBACK, SHARED_SECRET } from "./context";
import { AgentProcess, ServerProcess, cleanupAll, workDir } from "./peers";
import { measureLoad } from "./run-load";
import { median } from "./stats";

const [roundsText = "4", secondsText = "3"] = process.argv.slice(2);
const rounds = Number(roundsText);
const durationMs = Number(secondsText) * 1000;
const SCRAPE_INTERVAL_MS = 1000;
const ACCEPT = ["text/plain;version=0.0.4", "application/openmetrics-text;version=1.0.0"];

try {
  const server = await ServerProcess.start(["--key", SHARED_SECRET]);
  const args = ["--server-addr", `${LOOPBACK}:${server.port}`, "--shared-secret", SHARED_SECRET];
  const metrics = join(workDir(), "metrics.sock");
  const agents = {
    "A (scraped every 1 s)": await AgentProcess.start([...args, "--metrics-endpoint", metrics]),
    "B (no endpoint)": await AgentProcess.start(args),
  };
  let scrapes = 0;
  let bytes = 0;
  const scraper = setInterval(async () => {
    const response = await fetch("http://localhost/metrics", { unix: metrics, headers: { accept: ACCEPT[scrapes % 2]! } } as RequestInit).catch(() => undefined);
    if (response?.ok) {
      bytes = (await response.text()).length;
      scrapes++;
    }
  }, SCRAPE_INTERVAL_MS);
  const load = (agent: AgentProcess, ms: number) =>
    measureLoad({ client: { kind: "grpc", endpoint: agent.api, sessions: 1 }, load: { closed: 64 }, warmupMs: ms === durationMs ? 500 : 0, durationMs: ms }, { agent: agent.pid, server: server.pid });
  for (const agent of Object.values(agents)) await load(agent, 2000);
  const results: Record<string, { rps: number[]; cpu: number[] }> = {};
  const names = Object.keys(agents) as (keyof typeof agents)[];
  for (let r = 0; r < rounds; r++) {
    for (const name of r % 2 === 0 ? names : [...names].reverse()) {
      const m = await load(agents[name], durationMs);
      (results[name] ??= { rps: [], cpu: [] }).rps.push(m.rps);
      results[name]!.cpu.push(m.cpuUsPerRequest.agent!);
      console.log(`round ${r} ${name}: ${m.rps} RPC/s, agent ${m.cpuUsPerRequest.agent} µs/call, p50 ${m.p50Us} µs, errors ${m.errors}`);
    }
  }
  clearInterval(scraper);
  for (const [name, r] of Object.entries(results)) console.log(`${name}: median ${median(r.rps)} RPC/s, agent ${median(r.cpu)} µs/call`);
  console.log(`${scrapes} scrapes of ${bytes} bytes`);
} finally {
  await cleanupAll();
}
