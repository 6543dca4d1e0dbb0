/** Scenario 5: the agent's resident memory at idle, under 64-way load, and over a bounded soak. */
import { LOOPBACK, SHARED_SECRET, type Context } from "./context";
import { AgentProcess, ServerProcess } from "./peers";
import { rssMb, rssSampler } from "./proc";
import { measureLoad } from "./run-load";
import { median, round } from "./stats";

const CALLERS = 64;

export async function memory({ report, options }: Context): Promise<void> {
  const server = await ServerProcess.start(["--key", SHARED_SECRET]);
  const agent = await AgentProcess.start(["--server-addr", `${LOOPBACK}:${server.port}`, "--shared-secret", SHARED_SECRET]);
  const grpc = { kind: "grpc" as const, endpoint: agent.api, sessions: 4 };
  await Bun.sleep(1000);
  const idle = rssMb(agent.pid);

  const loaded = rssSampler(agent.pid);
  const load = await measureLoad({ client: grpc, load: { closed: CALLERS }, warmupMs: options.warmupMs, durationMs: options.durationMs });
  const underLoad = loaded.stop();
  report.row(5, "RSS idle and under 64-way load", { idleMb: round(idle, 1), loadMaxMb: round(underLoad, 1), loadRps: load.rps });

  // The soak: the same load for soakMs, RSS sampled every second; growth compares the median
  // of the last fifth of the samples with the median of the first fifth.
  const samples: number[] = [];
  const timer = setInterval(() => samples.push(rssMb(agent.pid)), 1000);
  const soakPeak = rssSampler(agent.pid);
  const soak = await measureLoad({ client: grpc, load: { closed: CALLERS }, warmupMs: 0, durationMs: options.soakMs });
  clearInterval(timer);
  const maxUnderLoad = Math.max(underLoad, soakPeak.stop());
  const fifth = Math.max(1, Math.floor(samples.length / 5));
  const early = median(samples.slice(0, fifth));
  const late = median(samples.slice(-fifth));
  await Bun.sleep(2000);
  const after = rssMb(agent.pid);
  const growthPct = ((late - early) / early) * 100;
  report.row(5, `soak ${round(options.soakMs / 1000)} s at 64 callers`, {
    earlyMb: round(early, 1), lateMb: round(late, 1), maxMb: round(maxUnderLoad, 1), growthPct: round(growthPct, 1), idleAfterMb: round(after, 1),
    requests: soak.requests, errors: soak.errors, rps: soak.rps,
  });
  report.target("RSS idle", idle, "max", 60, "MB");
  report.target("RSS under 64-way load (incl. the soak)", maxUnderLoad, "max", 120, "MB");
  report.target(`RSS growth over the ${round(options.soakMs / 1000)} s soak`, growthPct, "max", 5, "%");
  await agent.stop();
  await server.stop();
}
