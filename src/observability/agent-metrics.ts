/**
 * The agent's metric families, read at scrape time from the state the layers below keep as
 * plain numbers: the engine's status (failover state, RFC 9105 counters per server), the entry
 * points' request cells, reload counters. Labels: configured server names and fixed enums only.
 */
import { OUTCOMES, REQUEST_TYPES, type EntryPointMetrics } from "../common/request-metrics";
import { HANDSHAKE_FAILURE_REASONS } from "../transport/handshake-failure";
import type { EngineStatus, FailoverStateName, ServerStatus } from "../upstream/types";
import { registerProcessMetrics } from "./process-metrics";
import { Registry, type HistogramSample, type Sample } from "./registry";

export interface BuildLabels {
  version: string;
  commit: string;
  features: readonly string[];
}

/** Reloads (SIGHUP), counted by the daemon. */
export interface ReloadCounts {
  succeeded: number;
  failed: number;
  /** Unix seconds of the last successful load (the start counts as one); 0 before. */
  lastSuccessSeconds: number;
}

/** A certificate the configuration names (config/certificates.ts CertificateInfo). */
export interface CertificateDates {
  server: string;
  role: string;
  subject: string;
  /** SHA-256 fingerprint, "AB:CD:…" (two CAs may share a subject). */
  fingerprint: string;
  notAfterMs: number;
}

export interface MetricSources {
  build: BuildLabels;
  startTimeSeconds: number;
  engine: () => EngineStatus;
  /** Entry points by name ("api", "proxy"); only the hosted ones. */
  entryPoints: Readonly<Record<string, EntryPointMetrics>>;
  reloads: ReloadCounts;
  /** The running configuration's certificates (a reload may change them). */
  certificates: () => readonly CertificateDates[];
}

const FAILOVER_STATES: readonly FailoverStateName[] = ["PreferredActive", "FailedOver", "NoResponsiveServer"];
const SINGLE_CONNECT_MODES: readonly ServerStatus["singleConnect"][] = ["unknown", "supported", "unsupported"];

/** RFC 9105 `statistics` leaf per counter, as metric names. */
const SERVER_COUNTERS: readonly [keyof ServerStatus["counters"], string, string][] = [
  ["connectionOpens", "tacacsrs_server_connection_opens", "Connections opened to the server (RFC 9105 connection-opens)"],
  ["connectionCloses", "tacacsrs_server_connection_closes", "Connections closed normally (RFC 9105 connection-closes)"],
  ["connectionAborts", "tacacsrs_server_connection_aborts", "Connections aborted (RFC 9105 connection-aborts)"],
  ["connectionFailures", "tacacsrs_server_connection_failures", "Connection attempts that failed (RFC 9105 connection-failures)"],
  ["connectionTimeouts", "tacacsrs_server_connection_timeouts", "Connection attempts or replies that timed out (RFC 9105 connection-timeouts)"],
  ["messagesSent", "tacacsrs_server_messages_sent", "Packets sent to the server (RFC 9105 messages-sent)"],
  ["messagesReceived", "tacacsrs_server_messages_received", "Packets received from the server (RFC 9105 messages-received)"],
  ["errorsReceived", "tacacsrs_server_errors_received", "ERROR replies received (RFC 9105 errors-received)"],
  ["sessions", "tacacsrs_server_sessions", "Sessions started on the server (RFC 9105 sessions)"],
];

const flag = (on: boolean): number => (on ? 1 : 0);

function perServer(status: () => EngineStatus, value: (server: ServerStatus, index: number, engine: EngineStatus) => number): () => Sample[] {
  return () => {
    const engine = status();
    return engine.servers.map((server, index) => ({ labels: { server: server.name }, value: value(server, index, engine) }));
  };
}

function registerEngine(registry: Registry, status: () => EngineStatus): void {
  registry.gauge("tacacsrs_failover_state", "1 for the current failover state, 0 for the others", () => {
    const { state } = status();
    return FAILOVER_STATES.map((name) => ({ labels: { state: name }, value: flag(name === state) }));
  });
  registry.gauge("tacacsrs_server_active", "1 for the server new requests go to first", perServer(status, (_, index, engine) => flag(index === engine.activeServer)));
  registry.gauge("tacacsrs_server_connected", "1 while a connection to the server is open", perServer(status, (server) => flag(server.connected)));
  registry.gauge("tacacsrs_server_single_connect", "1 for the server's single-connect mode (RFC 8907 §4.3) as negotiated", () =>
    status().servers.flatMap((server) => SINGLE_CONNECT_MODES.map((mode) => ({ labels: { server: server.name, mode }, value: flag(server.singleConnect === mode) }))),
  );
  registry.gauge("tacacsrs_server_sessions_in_flight", "Sessions in flight on the server", perServer(status, (server) => server.sessionsInFlight));
  for (const [key, name, help] of SERVER_COUNTERS) registry.counter(name, help, perServer(status, (server) => server.counters[key]));
  registry.histogram(
    "tacacsrs_server_reply_duration_seconds",
    "From sending a session's first packet to the server's reply, by server and packet type",
    () => status().servers.flatMap((server) => REQUEST_TYPES.map((type) => ({ labels: { server: server.name, type }, histogram: server.replyLatency[type] }))),
    "seconds",
  );
  registry.histogram(
    "tacacsrs_server_connect_duration_seconds",
    "Connection set-up to the server: TCP connect plus the TLS (certificate) or TLS-PSK (psk-dhe, psk-only) handshake",
    () => status().servers.map((server) => ({ labels: { server: server.name, security: server.security }, histogram: server.connectLatency })),
    "seconds",
  );
  registry.counter("tacacsrs_tls_handshake_failures", "Failed TLS handshakes with the server by reason (a fixed set; see the README), TLS servers only", () =>
    status().servers.flatMap(({ name, security, tlsHandshakeFailures }) =>
      security === "tcp" ? [] : HANDSHAKE_FAILURE_REASONS.map((reason) => ({ labels: { server: name, security, reason }, value: tlsHandshakeFailures[reason] })),
    ),
  );
}

function registerEntryPoints(registry: Registry, entryPoints: Readonly<Record<string, EntryPointMetrics>>): void {
  const points = Object.entries(entryPoints);
  const each = <T>(f: (entryPoint: string, metrics: EntryPointMetrics) => T[]): (() => T[]) => () => points.flatMap(([name, metrics]) => f(name, metrics));
  registry.counter(
    "tacacsrs_requests",
    "Requests by entry point, type and outcome",
    each((entry_point, m) => REQUEST_TYPES.flatMap((type) => OUTCOMES.map((outcome) => ({ labels: { entry_point, type, outcome }, value: m[type][outcome] })))),
  );
  registry.gauge(
    "tacacsrs_requests_in_flight",
    "Requests in flight by entry point and type",
    each((entry_point, m) => REQUEST_TYPES.map((type) => ({ labels: { entry_point, type }, value: m[type].inFlight }))),
  );
  registry.histogram(
    "tacacsrs_request_duration_seconds",
    "Duration of whole requests by entry point and type",
    each((entry_point, m): HistogramSample[] => REQUEST_TYPES.map((type) => ({ labels: { entry_point, type }, histogram: m[type].latency }))),
    "seconds",
  );
  registry.counter("tacacsrs_connections", "Client connections accepted", each((entry_point, m) => [{ labels: { entry_point }, value: m.connections.accepted }]));
  registry.counter("tacacsrs_connections_refused", "Client connections refused at the connection limit", each((entry_point, m) => [{ labels: { entry_point }, value: m.connections.refused }]));
  registry.gauge("tacacsrs_connections_open", "Client connections open", each((entry_point, m) => [{ labels: { entry_point }, value: m.connections.open }]));
}

/** One sample per certificate and server; `sha256` (the fingerprint's first 8 bytes) tells same-subject certificates apart. */
function certificateSamples(certificates: readonly CertificateDates[]): Sample[] {
  const samples = new Map<string, Sample>();
  for (const c of certificates) {
    const sha256 = c.fingerprint.replaceAll(":", "").slice(0, 16).toLowerCase();
    samples.set(`${c.server}\0${c.role}\0${sha256}`, { labels: { server: c.server, role: c.role, subject: c.subject, sha256 }, value: Math.floor(c.notAfterMs / 1000) });
  }
  return [...samples.values()];
}

/** Every family the agent exports; `registry.counter/gauge/histogram` adds more (one line each). */
export function agentRegistry(sources: MetricSources): Registry {
  const registry = new Registry();
  const { build, reloads } = sources;
  registry.gauge("tacacsrs_build_info", "Version, commit and built-in features of the agent (value 1)", () => [
    { labels: { version: build.version, commit: build.commit, features: build.features.join(",") }, value: 1 },
  ]);
  registerProcessMetrics(registry, sources.startTimeSeconds);
  registerEngine(registry, sources.engine);
  registerEntryPoints(registry, sources.entryPoints);
  registry.counter("tacacsrs_config_reloads", "Configuration reloads (SIGHUP) by result", () => [
    { labels: { result: "success" }, value: reloads.succeeded },
    { labels: { result: "failure" }, value: reloads.failed },
  ]);
  registry.gauge("tacacsrs_certificate_not_after_timestamp_seconds", "When each client and CA certificate expires, Unix seconds", () => certificateSamples(sources.certificates()), "seconds");
  registry.gauge("tacacsrs_config_last_reload_success_timestamp_seconds", "When the configuration was last loaded successfully, Unix seconds", () => reloads.lastSuccessSeconds, "seconds");
  return registry;
}
