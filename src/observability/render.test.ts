import { expect, test } from "bun:test";
import { Histogram } from "../common/histogram";
import { formatFor, renderMetrics } from "./render";
import { Registry } from "./registry";

function sampleRegistry(): Registry {
  const latency = new Histogram([0.001, 0.01]);
  for (const seconds of [0.0005, 0.005, 0.005, 5]) latency.observe(seconds);
  return new Registry()
    .counter("demo_requests", "Requests\nby outcome", () => [
      { labels: { outcome: "pass" }, value: 3 },
      { labels: { outcome: 'we"ird\\' }, value: 1 },
    ])
    .gauge("demo_up", "Up", () => 1)
    .histogram("demo_duration_seconds", "Duration", () => [{ labels: { type: "acct" }, histogram: latency }], "seconds");
}

test("Prometheus text 0.0.4: counters typed with _total, cumulative buckets, escaped labels and help", () => {
  expect(renderMetrics(sampleRegistry().families(), "prometheus")).toBe(
    [
      "# HELP demo_requests_total Requests\\nby outcome",
      "# TYPE demo_requests_total counter",
      'demo_requests_total{outcome="pass"} 3',
      'demo_requests_total{outcome="we\\"ird\\\\"} 1',
      "# HELP demo_up Up",
      "# TYPE demo_up gauge",
      "demo_up 1",
      "# HELP demo_duration_seconds Duration",
      "# TYPE demo_duration_seconds histogram",
      'demo_duration_seconds_bucket{type="acct",le="0.001"} 1',
      'demo_duration_seconds_bucket{type="acct",le="0.01"} 3',
      'demo_duration_seconds_bucket{type="acct",le="+Inf"} 4',
      'demo_duration_seconds_sum{type="acct"} 5.0105',
      'demo_duration_seconds_count{type="acct"} 4',
      "",
    ].join("\n"),
  );
});

test("OpenMetrics 1.0: counter family without _total, # UNIT, # EOF", () => {
  const text = renderMetrics(sampleRegistry().families(), "openmetrics");
  expect(text).toContain("# TYPE demo_requests counter\n");
  expect(text).toContain('demo_requests_total{outcome="pass"} 3\n');
  expect(text).toContain("# UNIT demo_duration_seconds seconds\n");
  expect(text.endsWith("# EOF\n")).toBe(true);
});

test("the format follows the Accept header", () => {
  expect(formatFor(undefined)).toBe("prometheus");
  expect(formatFor("text/plain;version=0.0.4")).toBe("prometheus");
  expect(formatFor("application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5")).toBe("openmetrics");
});

test("registration refuses names Prometheus would reject, duplicates, and a unit the name does not end with", () => {
  expect(() => new Registry().gauge("1bad", "x", () => 0)).toThrow();
  expect(() => new Registry().counter("x_total", "x", () => 0)).toThrow();
  expect(() => new Registry().gauge("x", "x", () => 0).gauge("x", "x", () => 0)).toThrow();
  expect(() => new Registry().gauge("x_bytes", "x", () => 0, "seconds")).toThrow();
});
