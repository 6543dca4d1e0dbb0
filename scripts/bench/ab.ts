/**
 * A/B of two agent binaries on one machine, alternated: each round runs the same 64-caller gRPC
 * load (and h2load) against agent A, then agent B, both in front of one test server.
 *   bun scripts/bench/ab.ts BIN_A BIN_B [rounds=4] [seconds=3] [upstream=plain|tls]
 * Prints RPC/s and agent CPU µs per call for each run, then the medians.
 */
import { testPki } from "../../test/support/pki";
import { LOOPBACK, SHARED_SECRET } from "./context";
import { AgentProcess, ServerProcess, cleanupAll } from "./peers";
import { measureLoad } from "./run-load";
import { median } from "./stats";

const [binA, binB, roundsText = "4", secondsText = "3", upstream = "plain"] = process.argv.slice(2);
if (!binA || !binB) throw new Error("usage: bun scripts/bench/ab.ts BIN_A BIN_B [rounds] [seconds] [plain|tls]");
const rounds = Number(roundsText);
const durationMs = Number(secondsText) * 1000;
const tls = upstream === "tls";
try {
  const pki = await testPki();
  const server = await ServerProcess.start(tls ? ["--tls-cert", pki.server.certPath, "--tls-key", pki.server.keyPath] : ["--key", SHARED_SECRET]);
  const args = ["--server-addr", `${LOOPBACK}:${server.port}`, ...(tls ? ["--use-tls", "--ca-certificate", pki.ca.certPath] : ["--shared-secret", SHARED_SECRET])];
  const agents: Record<string, AgentProcess> = {};
  for (const [name, binary] of [["A", binA], ["B", binB]] as const) agents[name] = await AgentProcess.start(args, { binary });
  const load = (agent: AgentProcess, ms: number) =>
    measureLoad({ client: { kind: "grpc", endpoint: agent.api, sessions: 1 }, load: { closed: 64 }, warmupMs: ms === durationMs ? 500 : 0, durationMs: ms }, { agent: agent.pid, server: server.pid });
  for (const agent of Object.values(agents)) await load(agent, 5000);
  const results: Record<string, { rps: number[]; cpu: number[]; server: number[] }> = { A: { rps: [], cpu: [], server: [] }, B: { rps: [], cpu: [], server: [] } };
  for (let r = 0; r < rounds; r++) {
    for (const name of r % 2 === 0 ? ["A", "B"] : ["B", "A"]) {
      const m = await load(agents[name]!, durationMs);
      results[name]!.rps.push(m.rps);
      results[name]!.cpu.push(m.cpuUsPerRequest.agent!);
      results[name]!.server.push(m.cpuUsPerRequest.server!);
      console.log(`round ${r} ${name}: ${m.rps} RPC/s, agent ${m.cpuUsPerRequest.agent} µs, server ${m.cpuUsPerRequest.server} µs, load ${m.cpuUsPerRequest.load} µs, p50 ${m.p50Us} µs, errors ${m.errors}`);
    }
  }
  for (const [name, r] of Object.entries(results)) console.log(`${name}: median ${median(r.rps)} RPC/s, agent ${median(r.cpu)} µs/call, server ${median(r.server)} µs/call`);
} finally {
  await cleanupAll();
}
