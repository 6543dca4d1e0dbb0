/**
 * The benchmarks of issue 9 (`npm run bench`): the compiled agent, the test TACACS+ servers and
 * the load generators each in their own process, on loopback.
 *
 *   bun scripts/bench/index.ts [--quick] [--only 1,3,8] [--rounds N] [--duration-ms N] [--soak-seconds N]
 *
 * Prints a table row and one JSON line per measurement, then every target of the issue as
 * measured / target. Exit status 1 when a target is missed, 2 on bad arguments.
 */
import { parseArgs } from "node:util";
import { benchOptions, type BenchOptions, type Context } from "./context";
import { failover } from "./failover";
import { herd } from "./herd";
import { memory } from "./memory";
import { agentBinary, cleanupAll } from "./peers";
import { Report } from "./report";
import { startup } from "./startup";
import { throughput } from "./throughput";

const ALL = [1, 2, 3, 4, 5, 6, 7, 8];

const USAGE = `usage: bun scripts/bench/index.ts [--quick] [--only N[,N...]] [--rounds N] [--duration-ms N] [--soak-seconds N]
  scenarios: 1 ceiling, 2 legacy per-request, 3 gRPC API, 4 proxy, 5 memory, 6 startup, 7 failover, 8 thundering herd
  --quick   a 1–2 minute smoke run (1 round, short windows, 30 s soak)
  AGENTD_BIN=path overrides the agent binary (default dist/tacacsrs-agentd)`;

class UsageError extends Error {}

function positive(name: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const value = Number(text);
  if (!Number.isInteger(value) || value <= 0) throw new UsageError(`--${name} needs a positive integer, got "${text}"`);
  return value;
}

export function parseBenchArgs(argv: string[]): { options: BenchOptions; scenarios: Set<number> } | "help" {
  let values;
  try {
    values = parseArgs({
      args: argv,
      options: {
        quick: { type: "boolean" }, only: { type: "string" }, rounds: { type: "string" }, "duration-ms": { type: "string" },
        "soak-seconds": { type: "string" }, help: { type: "boolean", short: "h" },
      },
      strict: true,
      allowPositionals: false,
    }).values;
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  if (values.help) return "help";
  const scenarios = new Set(values.only === undefined ? ALL : values.only.split(",").map((s) => Number(s.trim())));
  for (const s of scenarios) if (!ALL.includes(s)) throw new UsageError(`--only: no scenario "${s}" (1–8)`);
  const overrides: Partial<BenchOptions> = {};
  const rounds = positive("rounds", values.rounds);
  const durationMs = positive("duration-ms", values["duration-ms"]);
  const soakSeconds = positive("soak-seconds", values["soak-seconds"]);
  if (rounds !== undefined) overrides.rounds = rounds;
  if (durationMs !== undefined) overrides.durationMs = durationMs;
  if (soakSeconds !== undefined) overrides.soakMs = soakSeconds * 1000;
  return { options: benchOptions(values.quick === true, overrides), scenarios };
}

async function main(): Promise<number> {
  let parsed: ReturnType<typeof parseBenchArgs>;
  try {
    parsed = parseBenchArgs(process.argv.slice(2));
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    process.stderr.write(`bench: ${error.message}\n${USAGE}\n`);
    return 2;
  }
  if (parsed === "help") {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const { options, scenarios } = parsed;
  const report = new Report();
  const ctx: Context = { options, report };
  const stop = () => void cleanupAll().then(() => process.exit(130));
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
  const started = performance.now();
  try {
    agentBinary();
    console.log(`tacacsrs-agentd benchmarks (${options.quick ? "quick" : "full"}; ${options.rounds} round(s), ${options.durationMs} ms windows), scenarios ${[...scenarios].join(",")}`);
    console.log("| # | measurement                                  | figures (medians over rounds; CpuUs = CPU µs per request of that process)");
    if ([1, 2, 3, 4].some((s) => scenarios.has(s))) await throughput(ctx, scenarios);
    if (scenarios.has(5)) await memory(ctx);
    if (scenarios.has(6)) await startup(ctx);
    if (scenarios.has(7)) await failover(ctx);
    if (scenarios.has(8)) await herd(ctx);
  } catch (error) {
    process.stderr.write(`bench: ${(error as Error).message}\n`);
    return 1;
  } finally {
    await cleanupAll();
  }
  report.summary();
  console.log(`(${Math.round((performance.now() - started) / 1000)} s)`);
  return report.targets.every((t) => t.met) ? 0 : 1;
}

if (import.meta.main) process.exit(await main());
