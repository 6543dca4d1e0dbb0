/**
 * The standard process_ metrics of the Prometheus client libraries, read from /proc at scrape time
 * (https://prometheus.io/docs/instrumenting/writing_clientlibs/#process-metrics).
 */
import { readdirSync, readFileSync } from "node:fs";
import type { Registry } from "./registry";

/** "Max open files  1024  524288  files" in /proc/self/limits: the soft limit. */
function maxOpenFiles(): number {
  try {
    const line = readFileSync("/proc/self/limits", "utf8").split("\n").find((l) => l.startsWith("Max open files"));
    const soft = line?.split(/\s{2,}/)[1];
    return soft === undefined || soft === "unlimited" ? NaN : Number(soft);
  } catch {
    return NaN;
  }
}

function openFiles(): number {
  try {
    return readdirSync("/proc/self/fd").length;
  } catch {
    return NaN;
  }
}

export function registerProcessMetrics(registry: Registry, startTimeSeconds: number): void {
  registry
    .counter("process_cpu_seconds", "Total user and system CPU time spent in seconds", () => {
      const { user, system } = process.cpuUsage();
      return (user + system) / 1e6;
    }, "seconds")
    .gauge("process_resident_memory_bytes", "Resident memory size in bytes", () => process.memoryUsage.rss(), "bytes")
    .gauge("process_open_fds", "Number of open file descriptors", openFiles)
    .gauge("process_max_fds", "Maximum number of open file descriptors", maxOpenFiles)
    .gauge("process_start_time_seconds", "Start time of the process since the Unix epoch in seconds", () => startTimeSeconds, "seconds");
}
