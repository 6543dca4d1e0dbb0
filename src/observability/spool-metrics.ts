/** The accounting spool's depth and counters (when --accounting-spool-dir is set). */
import type { AccountingStats } from "../accounting";
import type { Registry } from "./registry";

export function registerSpoolMetrics(registry: Registry, stats: () => AccountingStats): void {
  registry
    .gauge("tacacsrs_accounting_spool_records", "Accounting records waiting in the spool", () => stats().records)
    .gauge("tacacsrs_accounting_spool_bytes", "Bytes of the spool on disk", () => stats().bytes, "bytes")
    .gauge("tacacsrs_accounting_spool_max_bytes", "The spool's bound (--accounting-spool-max-bytes)", () => stats().maxBytes, "bytes")
    .gauge("tacacsrs_accounting_spool_oldest_record_age_seconds", "Age of the oldest record waiting in the spool", () => stats().oldestAgeSeconds, "seconds")
    .counter("tacacsrs_accounting_spool_appended_records", "Records written to the spool", () => stats().appended)
    .counter("tacacsrs_accounting_spool_delivered_records", "Spooled records a server took", () => stats().delivered)
    .counter("tacacsrs_accounting_spool_refused_records", "Records refused by the spool, by reason", () => [
      { labels: { reason: "full" }, value: stats().refusedFull },
      { labels: { reason: "write_error" }, value: stats().writeErrors },
    ])
    .counter("tacacsrs_accounting_spool_replay_failures", "Replay attempts that failed (the record stays spooled)", () => stats().replayFailures);
}
