/**
 * The local client API: tacacsrs.agent.v1.TacacsAgent and grpc.health.v1.Health over our own
 * gRPC framing on our own HTTP/2 (`h2/`, cleartext, prior knowledge), on a Unix socket or loopback TCP.
 *
 *   const api = await startApiServer({ engine, endpoint, socketMode: 0o660, limits, log });
 *   ...
 *   await api.close(limits.shutdownGraceMs);   // stops accepting, drains, removes the socket
 */
import type { Endpoint } from "../common/endpoint";
import { silentLogger, type Logger } from "../common/log";
import type { Limits } from "../common/limits";
import type { UpstreamEngine } from "../upstream/types";
import type { AccountingDelivery } from "../accounting";
import { newEntryPointMetrics, type EntryPointMetrics } from "../common/request-metrics";
import { systemClock } from "../upstream/clock";
import { agentRoutes } from "./agent-service";
import { AuditService } from "./audit-service";
import { AgentHealth, healthRoutes } from "./health";
import { GrpcServer, type ApiCounters } from "./server";

export { GrpcError, Status, statusName } from "./status";
export { AgentHealth } from "./health";

/** Deadline of calls whose client sends no grpc-timeout. */
export const DEFAULT_CALL_TIMEOUT_MS = 30_000;

export interface ApiServerOptions {
  engine: UpstreamEngine;
  endpoint: Endpoint;
  /** Permission bits of the Unix socket (e.g. 0o660); ignored for TCP. */
  socketMode: number;
  limits: Pick<Limits, "maxApiStreams" | "maxGrpcMessageBytes"> &
    Partial<Pick<Limits, "maxApiConnections" | "maxApiStreamsPerConnection" | "maxApiWatchStreams" | "maxApiStreamsPerPeer" | "maxApiConnectionsPerPeer">>;
  defaultTimeoutMs?: number;
  log?: Logger;
  /** Accounting spool and journal (--accounting-*); absent: accounting replies as before. */
  accounting?: AccountingDelivery;
  /** Requests and connections counted in place, for the metrics endpoint. */
  metrics?: EntryPointMetrics;
  /** The proxy's counters, for Status (when the proxy is hosted). */
  proxyMetrics?: EntryPointMetrics;
  /** What grpc.health.v1 answers; by default readiness follows the engine, startup is done. */
  health?: AgentHealth;
}

export interface ApiServer {
  /** Where it listens (a TCP port 0 resolved to the bound port). */
  readonly endpoint: Endpoint;
  readonly activeCalls: number;
  /** Refusals per limit and reason (plain live numbers, for Status and metrics). */
  readonly counters: ApiCounters;
  /** Audit sessions of TACACS+ logins and the audit plugin's last report (command accounting). */
  readonly audit: AuditService;
  /** Graceful stop: in-flight calls get `graceMs`, then are cancelled; the socket is removed. */
  close(graceMs: number): Promise<void>;
}

/** Starts the API; throws LocalSocketError when the endpoint cannot be used. */
export async function startApiServer(options: ApiServerOptions): Promise<ApiServer> {
  const log = options.log ?? silentLogger;
  const metrics = options.metrics ?? newEntryPointMetrics();
  const audit = new AuditService(systemClock, log);
  const server = new GrpcServer({
    routes: [...agentRoutes(options.engine, log, audit, options.accounting, metrics, options.proxyMetrics), ...healthRoutes(options.health ?? new AgentHealth(options.engine))],
    connectionCounts: metrics.connections,
    maxConcurrentCalls: options.limits.maxApiStreams,
    ...(options.limits.maxApiConnections === undefined ? {} : { maxConnections: options.limits.maxApiConnections }),
    ...(options.limits.maxApiStreamsPerConnection === undefined ? {} : { maxStreamsPerConnection: options.limits.maxApiStreamsPerConnection }),
    ...(options.limits.maxApiWatchStreams === undefined ? {} : { maxStreamingCalls: options.limits.maxApiWatchStreams }),
    ...(options.limits.maxApiStreamsPerPeer === undefined ? {} : { maxCallsPerPeer: options.limits.maxApiStreamsPerPeer }),
    ...(options.limits.maxApiConnectionsPerPeer === undefined ? {} : { maxConnectionsPerPeer: options.limits.maxApiConnectionsPerPeer }),
    maxMessageBytes: options.limits.maxGrpcMessageBytes,
    defaultTimeoutMs: options.defaultTimeoutMs ?? DEFAULT_CALL_TIMEOUT_MS,
    log,
  });
  const endpoint = await server.listen(options.endpoint, options.socketMode);
  return {
    endpoint,
    get activeCalls() {
      return server.activeCalls;
    },
    get counters() {
      return server.counters;
    },
    audit,
    close: (graceMs) => server.close(graceMs),
  };
}
