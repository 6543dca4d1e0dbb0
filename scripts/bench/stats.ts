/** Small statistics and formatting helpers for the benchmark report. */

/** The q-quantile (0..1) of an ascending sorted array, nearest rank; NaN when empty. */
export function quantile(sorted: ArrayLike<number>, q: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[rank]!;
}

export function median(values: readonly number[]): number {
  return quantile(Float64Array.from(values).sort(), 0.5);
}

/** Latency summary in microseconds of the samples (microseconds, any order). */
export interface Latency {
  p50Us: number;
  p99Us: number;
  p999Us: number;
}

export function latencyOf(samplesUs: Float64Array): Latency {
  const sorted = samplesUs.slice().sort();
  return { p50Us: round(quantile(sorted, 0.5)), p99Us: round(quantile(sorted, 0.99)), p999Us: round(quantile(sorted, 0.999)) };
}

export function round(value: number, digits = 0): number {
  const scale = 10 ** digits;
  return Math.round(value * scale) / scale;
}

/** The per-field median of several runs of the same measurement (numbers only). */
export function medianOf<T extends Record<string, number>>(runs: readonly T[]): T {
  const first = runs[0];
  if (first === undefined) throw new Error("medianOf needs at least one run");
  const out: Record<string, number> = {};
  for (const key of Object.keys(first)) out[key] = round(median(runs.map((run) => run[key]!)), 1);
  return out as T;
}

export function formatNumber(value: number): string {
  if (!Number.isFinite(value)) return "n/a";
  if (Math.abs(value) >= 1000) return Math.round(value).toLocaleString("en-US");
  return String(round(value, Math.abs(value) >= 10 ? 0 : 2));
}
