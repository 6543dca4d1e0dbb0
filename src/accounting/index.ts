/** Accounting delivery: durable spool, replay, local journal copy (between upstream and the services). */
export { AccountingDelivery, QUEUED_MESSAGE, type AccountingStats, type FanOutCollector, type FanOutResult, type LiveOutcome, type Verdict } from "./delivery";
export { spoolDirectoryProblem } from "./directory";
export { DEFAULT_SPOOL_MAX_BYTES, Spool, SpoolFullError, SpoolWriteError, type SpoolStats } from "./spool";
