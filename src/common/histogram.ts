/**
 * A latency histogram as plain numbers updated in place: fixed bucket bounds chosen when it is
 * made, one count per bucket (not cumulative; the metrics renderer adds them up at scrape time).
 */

/** Seconds, 100 µs to 10 s: a local TACACS+ reply is sub-millisecond, a slow server's reply takes seconds. */
export const LATENCY_BUCKETS_SECONDS: readonly number[] = [
  0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
];

export class Histogram {
  /** counts[i]: observations ≤ bounds[i] and > bounds[i-1]; the last cell counts those above every bound. */
  readonly counts: number[];
  sum = 0;
  count = 0;

  constructor(readonly bounds: readonly number[] = LATENCY_BUCKETS_SECONDS) {
    this.counts = new Array<number>(bounds.length + 1).fill(0);
  }

  observe(value: number): void {
    const bounds = this.bounds;
    let i = 0;
    while (i < bounds.length && value > bounds[i]!) i++;
    this.counts[i]! += 1;
    this.sum += value;
    this.count += 1;
  }
}
