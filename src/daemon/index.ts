/**
 * The daemon: configuration → upstream engine → services (gRPC API, proxy), then signals.
 * SIGTERM/SIGINT drain and exit 0; SIGHUP reloads servers and secrets, keeping the listeners and
 * the old configuration when the new one is bad.
 */
import { formatEndpoint, type Endpoint } from "../common/endpoint";
import { configureLogging, logger, resetRepeatedWarnings, setVerbosity } from "../common/log";
import { AgentHealth, startApiServer, type ApiServer } from "../api";
import { certificateFindings, loadConfig, type BuildInfo, type RuntimeConfig } from "../config";
import { startProxy, type ProxyServer } from "../proxy";
import { connectorFor } from "../transport";
import { createEngine } from "../upstream/engine";
import type { UpstreamEngine } from "../upstream/types";
import { guardAgainstDefects } from "./defects";
import { DaemonSignals, type StopSignal } from "./signals";
import { wipeReplacedPskKeys } from "./replaced-secrets";
import { pskCounters } from "../transport/psk/counters";
import { sdNotify } from "./sd-notify";
import { statusLine } from "./systemd-status";
import { errorMessage } from "../common/error-message";
import { AccountingDelivery, Spool, type AccountingStats, type FanOutCollector } from "../accounting";
import { systemClock } from "../upstream/clock";
import { constants as osConstants } from "node:os";

/** Share of --max-sessions-in-flight that replaying the accounting spool may hold (its paced window stays below). */
const REPLAY_SHARE = 1 / 16;

/** The fan-out collectors of `config` with their addresses (a collector's spool follows its address). */
function fanOutCollectors(config: RuntimeConfig): FanOutCollector[] | undefined {
  return config.accounting.fanOut?.map((name) => {
    const server = config.engine.servers.find((candidate) => candidate.name === name)!;
    return { server: name, address: formatEndpoint({ kind: "tcp", host: server.host, port: server.port }) };
  });
}

/** The accounting spool, fan-out and journal when their flags ask for them (issue 15). */
function accountingDelivery(config: RuntimeConfig, engine: UpstreamEngine): AccountingDelivery | undefined {
  const { spoolDir, spoolMaxBytes, journal, fanOut } = config.accounting;
  if (spoolDir === undefined && !journal && fanOut === undefined) return undefined;
  const log = logger("accounting");
  // With fan-out, each collector has its own spool (own cursor and replay) in a subdirectory; the
  // bound is shared out equally between them and the main spool (left from runs without fan-out).
  const shares = 1 + (fanOut?.length ?? 0);
  const openSpool = (dir: string) => Spool.open({ dir, maxBytes: Math.floor(spoolMaxBytes / shares), clock: systemClock, log });
  const spool = spoolDir === undefined ? undefined : openSpool(spoolDir);
  const collectors = fanOutCollectors(config);
  const slowest = Math.max(...config.engine.servers.map((server) => server.timeoutMs));
  return new AccountingDelivery({
    engine,
    ...(spool ? { spool } : {}),
    ...(collectors ? { fanOut: collectors } : {}),
    ...(spoolDir === undefined ? {} : { collectorSpools: { dir: spoolDir, open: openSpool } }),
    ...(journal ? { journal: (line: string) => void process.stderr.write(`${line}\n`) } : {}),
    clock: systemClock,
    log,
    requestTimeoutMs: config.engine.connectTimeoutMs + slowest,
    replayWindow: Math.max(1, Math.floor(config.engine.maxSessionsInFlight * REPLAY_SHARE)),
  });
}
import { newEntryPointMetrics, type EntryPointMetrics } from "../common/request-metrics";
import { agentRegistry, startMetricsServer, type EndpointCounts, type MetricsServer, type ReloadCounts } from "../observability";

/** Exit status when the configuration is valid but the daemon cannot start (socket in use, …). */
const START_FAILURE_EXIT = 1;

interface Running {
  config: RuntimeConfig;
  engine: UpstreamEngine;
  accounting?: AccountingDelivery;
  api?: ApiServer;
  proxy?: ProxyServer;
  metrics?: MetricsServer;
  reloads: ReloadCounts;
  health: AgentHealth;
}

const log = logger("daemon");

/** Certificate expiry is checked at start, on SIGHUP and once a day. */
const CERTIFICATE_CHECK_INTERVAL_MS = 86_400_000;

/** An error line per expired (or not yet valid) certificate, a warning per one expiring soon. */
function checkCertificates(config: RuntimeConfig): void {
  for (const finding of certificateFindings(config.certificates, Date.now(), config.certificateExpiryWarningDays)) {
    if (finding.severity === "error") log.error(finding.message);
    else log.warn(finding.message);
  }
}

function warnAboutInsecureSettings(config: RuntimeConfig): void {
  for (const server of config.engine.servers) {
    if (server.security.kind === "tls" && !server.security.verifyServer) {
      log.warn(`${server.name}: TLS certificate verification is DISABLED (--insecure-disable-certificate-verification)`);
    }
  }
}

/** The metrics endpoint, reading what the services count in place. */
async function startMetrics(running: Running, endpoint: Endpoint, entryPoints: Record<string, EntryPointMetrics>, build: BuildInfo): Promise<MetricsServer> {
  const registry = agentRegistry({
    build,
    startTimeSeconds: Math.round(Date.now() / 1000 - process.uptime()),
    engine: () => running.engine.status(),
    entryPoints,
    reloads: running.reloads,
    certificates: () => running.config.certificates,
  });
  const counts: EndpointCounts = { scrapes: 0, rejected: 0, refusedConnections: 0 };
  registry
    .counter("tacacsrs_metrics_scrapes", "Scrapes of this endpoint answered", () => counts.scrapes)
    .counter("tacacsrs_metrics_rejected_requests", "Requests to this endpoint answered 400/404/405/431", () => counts.rejected)
    .counter("tacacsrs_metrics_connections_refused", "Connections to this endpoint refused at its connection limit", () => counts.refusedConnections)
    .counter("tacacsrs_tls_psk_key_updates_received", "TLS PSK KeyUpdates received from servers (more than 32 in a row close the connection)", () => pskCounters.keyUpdatesReceived)
    .counter("tacacsrs_tls_psk_key_updates_sent", "TLS PSK KeyUpdates sent (answers and rekeys)", () => pskCounters.keyUpdatesSent)
    .counter("tacacsrs_tls_psk_rekeys_at_record_limit", "TLS PSK KeyUpdates sent because a key had protected 2^23 records (RFC 8446 §5.5)", () => pskCounters.rekeysAtRecordLimit)
    .counter("tacacsrs_tls_psk_failures_after_handshake", "TLS PSK connections ended with an alert after the handshake (plaintext alert, KeyUpdate flood, record limit)", () => pskCounters.failuresAfterHandshake);
  // The accounting spool (issue 15): depth and counters, 0 without --accounting-spool-dir.
  const spool = (name: keyof AccountingStats) => () => running.accounting?.stats()?.[name] ?? 0;
  registry
    .gauge("tacacsrs_accounting_spool_records", "Accounting records accepted and not yet delivered", spool("records"))
    .gauge("tacacsrs_accounting_spool_bytes", "Bytes of the accounting spool on disk (bounded by --accounting-spool-max-bytes)", spool("bytes"))
    .gauge("tacacsrs_accounting_spool_oldest_age_seconds", "Age of the oldest undelivered accounting record", spool("oldestAgeSeconds"))
    .counter("tacacsrs_accounting_spool_appended", "Accounting records spooled (durably) since start", spool("appended"))
    .counter("tacacsrs_accounting_spool_delivered", "Spooled accounting records delivered since start", spool("delivered"))
    .counter("tacacsrs_accounting_spool_refused_full", "Accounting records refused because the spool was full", spool("refusedFull"))
    .counter("tacacsrs_accounting_spool_write_errors", "Accounting records refused because the disk refused the write", spool("writeErrors"))
    .counter("tacacsrs_accounting_fan_out_missed", "Fan-out: records a collector missed that could not be spooled for it", spool("fanOutMissed"))
    .gauge("tacacsrs_accounting_spool_orphaned_records", "Spooled records of fan-out collectors no longer configured (kept, not delivered)", spool("orphanedRecords"));
  // Command accounting (issue 22): registered audit sessions, refusals, and the audit plugin's last report.
  const auditCounters = () => running.api?.audit.registry.counters;
  const pluginCounter = (name: string) => running.api?.audit.pluginCounters()?.[name] ?? 0;
  registry
    .gauge("tacacsrs_audit_sessions", "TACACS+ login sessions registered for command accounting", () => running.api?.audit.registry.size ?? 0)
    .counter("tacacsrs_audit_session_registrations", "Audit session registrations accepted", () => auditCounters()?.registered ?? 0)
    .counter("tacacsrs_audit_session_refusals", "Audit session calls refused, by reason", () => [
      { labels: { reason: "not_root" }, value: auditCounters()?.denied ?? 0 },
      { labels: { reason: "full" }, value: auditCounters()?.rejectedFull ?? 0 },
      { labels: { reason: "already_registered" }, value: auditCounters()?.alreadyRegistered ?? 0 },
    ])
    .counter("tacacsrs_audit_sessions_expired", "Audit sessions forgotten after 24 h without a command", () => auditCounters()?.expired ?? 0)
    .counter("tacacsrs_audit_plugin_events_read", "Exec events the audit plugin read, as it last reported", () => pluginCounter("eventsRead"))
    .counter("tacacsrs_audit_plugin_events", "The audit plugin's events and records by outcome, as it last reported", () =>
      ["accounted", "skipped", "dropped", "malformed", "failed"].map((outcome) => ({ labels: { outcome }, value: pluginCounter(outcome) })),
    )
    .gauge("tacacsrs_audit_plugin_queue_depth", "Events waiting in the audit plugin's queue at its last report", () => pluginCounter("queueDepth"));
  // Limits against hostile local clients (issue 19): what each bound refused or cut, by reason
  // (the call counters' two gauges are exported apart).
  const gauges = new Set(["bufferedBytes", "cancelledRunning"]);
  const reasons = (counters: object | undefined) =>
    (Object.entries(counters ?? {}) as [string, number][]).filter(([reason]) => !gauges.has(reason)).map(([reason, value]) => ({ labels: { reason }, value }));
  registry
    .counter("tacacsrs_api_http2_refusals", "API connections and streams refused or cut by an HTTP/2 limit, by reason", () => reasons(running.api?.counters.http2))
    .counter("tacacsrs_api_call_refusals", "API calls refused by a limit (RESOURCE_EXHAUSTED), by reason", () => reasons(running.api?.counters.calls))
    .gauge("tacacsrs_api_buffered_request_bytes", "Request bytes the API holds now (bounded by the request buffers)", () => running.api?.counters.calls.bufferedBytes ?? 0)
    .gauge("tacacsrs_api_cancelled_calls_running", "Calls the client cancelled whose work has not ended (they keep their slot)", () => running.api?.counters.calls.cancelledRunning ?? 0)
    .gauge("tacacsrs_api_peers", "Peers (uids on the Unix socket, all TCP clients as one) holding an API connection or call now", () => running.api?.counters.peers ?? 0)
    .counter("tacacsrs_proxy_refusals", "Proxy connections refused or cut by a limit, by reason", () => reasons(running.proxy?.counters));
  return startMetricsServer({ endpoint, socketMode: running.config.socketMode, registry, counts, log: logger("metrics") });
}

async function start(config: RuntimeConfig, build: BuildInfo): Promise<Running> {
  const engine = createEngine(config.engine, { connectorFor, logger: logger("upstream") });
  const health = new AgentHealth(engine, false);
  const running: Running = { config, engine, health, reloads: { succeeded: 0, failed: 0, lastSuccessSeconds: Math.floor(Date.now() / 1000) } };
  // systemctl status shows the failover state; one datagram per change, never per request.
  engine.onStateChange((status) => void sdNotify(`STATUS=${statusLine(status)}`));
  const entryPoints: Record<string, EntryPointMetrics> = {};
  try {
    running.accounting = accountingDelivery(config, engine);
    if (config.services.clientApi) {
      running.api = await startApiServer({
        engine,
        endpoint: config.listenEndpoint,
        socketMode: config.socketMode,
        limits: config.limits,
        log: logger("api"),
        ...(running.accounting ? { accounting: running.accounting } : {}),
        metrics: (entryPoints.api = newEntryPointMetrics()),
        ...(config.services.proxy ? { proxyMetrics: (entryPoints.proxy = newEntryPointMetrics()) } : {}),
        health,
      });
      log.info(`client API listening on ${formatEndpoint(running.api.endpoint)}`);
    }
    if (config.services.proxy && config.proxyEndpoint) {
      running.proxy = await startProxy({
        endpoint: config.proxyEndpoint,
        socketMode: config.socketMode,
        engine,
        proxySharedSecret: () => running.config.proxySharedSecret,
        serverSecrets: () => running.config.engine.servers.map((server) => server.sharedSecret),
        limits: config.limits,
        logger: logger("proxy"),
        metrics: (entryPoints.proxy ??= newEntryPointMetrics()),
        ...(running.accounting ? { accounting: running.accounting } : {}),
      });
      log.info(`TACACS+ proxy listening on ${formatEndpoint(running.proxy.endpoint)}`);
    }
    if (config.metricsEndpoint) {
      running.metrics = await startMetrics(running, config.metricsEndpoint, entryPoints, build);
      log.info(`metrics endpoint listening on ${formatEndpoint(running.metrics.endpoint)}`);
    }
  } catch (error) {
    await stop(running, 0);
    throw error;
  }
  return running;
}

async function stop(running: Running, graceMs: number): Promise<void> {
  running.metrics?.close();
  await Promise.allSettled([running.api?.close(graceMs), running.proxy?.close(graceMs)]);
  await running.accounting?.close();
  await running.engine.close();
}

/** Settings that only a restart applies: the listeners (and turning accounting fan-out on or off; its collectors reload). */
function listenersChanged(a: RuntimeConfig, b: RuntimeConfig): boolean {
  const key = (c: RuntimeConfig) =>
    JSON.stringify([c.services, c.listenEndpoint, c.proxyEndpoint, c.metricsEndpoint, c.socketMode, c.limits, { ...c.accounting, fanOut: c.accounting.fanOut !== undefined }]);
  return key(a) !== key(b);
}

async function reload(running: Running, argv: string[], env: Record<string, string | undefined>, build: BuildInfo): Promise<void> {
  sdNotify("RELOADING=1");
  const outcome = await loadConfig(argv, env, build);
  resetRepeatedWarnings();
  if (outcome.kind === "exit") {
    running.reloads.failed += 1;
    log.error(`reload rejected, keeping the running configuration: ${outcome.stderr.trim() || "no configuration"}`);
  } else {
    for (const warning of outcome.warnings) log.warn(warning);
    if (listenersChanged(running.config, outcome.config)) {
      log.warn("listener settings changed: they take effect at the next restart");
    }
    configureLogging(outcome.config.logFormat, env);
    setVerbosity(outcome.config.verbosity);
    running.engine.reconfigure(outcome.config.engine);
    const collectors = fanOutCollectors(outcome.config);
    if (collectors && running.accounting?.fanOutEnabled) running.accounting.reconfigureFanOut(collectors);
    wipeReplacedPskKeys(running.config, outcome.config);
    running.config = outcome.config;
    running.reloads.succeeded += 1;
    running.reloads.lastSuccessSeconds = Math.floor(Date.now() / 1000);
    warnAboutInsecureSettings(outcome.config);
    checkCertificates(outcome.config);
    log.warn(`configuration reloaded: ${outcome.config.engine.servers.length} upstream server(s) from ${outcome.config.source}`);
  }
  sdNotify(`READY=1\nSTATUS=${statusLine(running.engine.status())}`);
}

const ONE_SHOT_FLAG = /^--(check|print)-config(=|$)/;

/**
 * A daemon stopped while it loads ends cleanly (0); `--check-config`/`--print-config` stopped
 * before their answer fail as the signal's default action would (128 + its number), so a script
 * never takes an interrupted check for a valid configuration.
 */
function stoppedWhileLoadingStatus(argv: string[], signal: StopSignal | undefined): number {
  if (signal === undefined || !argv.some((arg) => ONE_SHOT_FLAG.test(arg))) return 0;
  return 128 + osConstants.signals[signal];
}

/** Runs until SIGTERM/SIGINT; returns the exit status. */
export async function runDaemon(argv: string[], env: Record<string, string | undefined>, build: BuildInfo): Promise<number> {
  const signals = new DaemonSignals();
  // A stop during the load (e.g. a server name whose lookup hangs) ends the daemon: nothing runs yet.
  const outcome = await signals.unlessStopped(loadConfig(argv, env, build));
  if (outcome === undefined) {
    log.info(`${signals.stopSignal}: stopping while the configuration loads`);
    return stoppedWhileLoadingStatus(argv, signals.stopSignal);
  }
  if (outcome.kind === "exit") {
    process.stdout.write(outcome.stdout);
    process.stderr.write(outcome.stderr);
    return outcome.code;
  }
  const { config } = outcome;
  configureLogging(config.logFormat, env);
  setVerbosity(config.verbosity);
  guardAgainstDefects(log);
  for (const warning of outcome.warnings) log.warn(warning);
  warnAboutInsecureSettings(config);
  checkCertificates(config);

  let running: Running;
  try {
    // Not abandoned on a stop signal: the listeners it opens are closed by stop() below.
    running = await start(config, build);
  } catch (error) {
    log.error(`cannot start: ${errorMessage(error)}`);
    return START_FAILURE_EXIT;
  }
  if (!signals.stopSignal) {
    sdNotify(`READY=1\nSTATUS=starting: connecting to the upstream servers`);
    log.info(`tacacsrs-agentd ${build.version} serving with ${config.engine.servers.length} upstream server(s) from ${config.source}`);
    // Startup warm-up runs after the listeners are up: requests are accepted meanwhile.
    void running.engine.warmUp().then(() => {
      running.health.startupDone();
      sdNotify(`STATUS=${statusLine(running.engine.status())}`);
    });
  }

  const daily = setInterval(() => checkCertificates(running.config), CERTIFICATE_CHECK_INTERVAL_MS);
  daily.unref();
  let reloading = Promise.resolve();
  signals.onReload(() => {
    reloading = reloading.then(() => reload(running, argv, env, build)).catch((error) => {
      running.reloads.failed += 1;
      log.error(`reload failed: ${errorMessage(error)}`);
    });
  });

  const signal = await signals.stopped;
  clearInterval(daily);
  sdNotify("STOPPING=1");
  log.info(`${signal}: stopping (grace ${running.config.limits.shutdownGraceMs} ms)`);
  await stop(running, running.config.limits.shutdownGraceMs);
  return 0;
}
