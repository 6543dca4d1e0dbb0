/**
 * Observability: the metrics registry of the agent and the GET /metrics endpoint. It reads the
 * state the layers below keep (upstream engine status, API and proxy request cells) at scrape
 * time only; the daemon wires it.
 */
export { agentRegistry, type MetricSources, type ReloadCounts } from "./agent-metrics";
export { startMetricsServer, type EndpointCounts, type MetricsServer } from "./http-server";
export { Registry } from "./registry";
