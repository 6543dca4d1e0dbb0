/** Runs load.ts in its own process and measures the CPU the watched processes spent in its window. */
import { LineReader } from "./lines";
import type { LoadResult, LoadSpec } from "./load";
import { onCleanup } from "./peers";
import { cpuMs } from "./proc";
import { round } from "./stats";

const LOAD = new URL("./load.ts", import.meta.url).pathname;

export interface MeasuredLoad extends LoadResult {
  /** CPU µs per answered request of each watched process, by the name given. */
  cpuUsPerRequest: Record<string, number>;
}

export async function measureLoad(spec: LoadSpec, watch: Record<string, number> = {}): Promise<MeasuredLoad> {
  const child = Bun.spawn([process.execPath, LOAD, JSON.stringify(spec)], { stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  onCleanup(() => child.kill("SIGKILL"));
  const lines = new LineReader(child.stdout);
  // The generator's own CPU too: on 2 cores, generator + agent + server share one budget.
  watch = { ...watch, load: child.pid };
  const budget = spec.warmupMs + spec.durationMs + 15_000;
  const before: Record<string, number> = {};
  const cpuUsPerRequest: Record<string, number> = {};
  try {
    for (;;) {
      const message = JSON.parse(await lines.next(budget, "load generator")) as { phase?: string; result?: LoadResult };
      if (message.phase === "measure") for (const [name, pid] of Object.entries(watch)) before[name] = cpuMs(pid);
      if (message.phase === "done") for (const [name, pid] of Object.entries(watch)) cpuUsPerRequest[name] = cpuMs(pid) - before[name]!;
      if (message.result) {
        const answered = Math.max(1, message.result.requests - message.result.errors);
        for (const name of Object.keys(cpuUsPerRequest)) cpuUsPerRequest[name] = round((cpuUsPerRequest[name]! * 1000) / answered, 1);
        return { ...message.result, cpuUsPerRequest };
      }
    }
  } catch (error) {
    child.kill("SIGKILL");
    const stderr = await new Response(child.stderr).text().catch(() => "");
    throw new Error(`${(error as Error).message}\n${stderr.slice(-2000)}`);
  } finally {
    child.kill("SIGKILL");
    await child.exited;
  }
}
