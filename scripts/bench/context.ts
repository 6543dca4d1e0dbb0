/** What every scenario gets: the run's mode, its timings and the report. */
import type { Report } from "./report";

export interface BenchOptions {
  quick: boolean;
  /** Repetitions of each throughput measurement, interleaved; medians are reported. */
  rounds: number;
  warmupMs: number;
  durationMs: number;
  soakMs: number;
}

export function benchOptions(quick: boolean, overrides: Partial<BenchOptions> = {}): BenchOptions {
  const base = quick
    ? { quick, rounds: 1, warmupMs: 400, durationMs: 1500, soakMs: 30_000 }
    : { quick, rounds: 5, warmupMs: 1000, durationMs: 3000, soakMs: 600_000 };
  return { ...base, ...overrides };
}

export interface Context {
  options: BenchOptions;
  report: Report;
}

export const SHARED_SECRET = "labkey123";
export const LOOPBACK = "127.0.0.1";
