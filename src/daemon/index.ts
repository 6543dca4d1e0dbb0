/**
 * The daemon: configuration → upstream engine → services (gRPC API, proxy), then signals.
 * SIGTERM/SIGINT drain and exit 0; SIGHUP reloads servers and secrets, keeping the listeners and
 * the old configuration when the new one is bad.
 */
import { formatEndpoint } from "../common/endpoint";
import { logger, setVerbosity } from "../common/log";
import { startApiServer, type ApiServer } from "../api";
import { loadConfig, type BuildInfo, type RuntimeConfig } from "../config";
import { startProxy, type ProxyServer } from "../proxy";
import { connectorFor } from "../transport";
import { createEngine } from "../upstream/engine";
import type { UpstreamEngine } from "../upstream/types";
import { guardAgainstDefects } from "./defects";
import { sdNotify } from "./sd-notify";
import { errorMessage } from "../common/error-message";
import { AccountingDelivery, Spool } from "../accounting";
import { systemClock } from "../upstream/clock";

/** Share of --max-sessions-in-flight that replaying the accounting spool may hold. */
const REPLAY_SHARE = 0.25;

/** The accounting spool and journal when their flags ask for them (issue 15). */
function accountingDelivery(config: RuntimeConfig, engine: UpstreamEngine): AccountingDelivery | undefined {
  const { spoolDir, spoolMaxBytes, journal } = config.accounting;
  if (spoolDir === undefined && !journal) return undefined;
  const log = logger("accounting");
  const spool = spoolDir === undefined ? undefined : Spool.open({ dir: spoolDir, maxBytes: spoolMaxBytes, clock: systemClock, log });
  const slowest = Math.max(...config.engine.servers.map((server) => server.timeoutMs));
  return new AccountingDelivery({
    engine,
    ...(spool ? { spool } : {}),
    ...(journal ? { journal: (line: string) => void process.stderr.write(`${line}\n`) } : {}),
    clock: systemClock,
    log,
    requestTimeoutMs: config.engine.connectTimeoutMs + slowest,
    replayWindow: Math.max(1, Math.floor(config.engine.maxSessionsInFlight * REPLAY_SHARE)),
  });
}

/** Exit status when the configuration is valid but the daemon cannot start (socket in use, …). */
const START_FAILURE_EXIT = 1;

interface Running {
  config: RuntimeConfig;
  engine: UpstreamEngine;
  accounting?: AccountingDelivery;
  api?: ApiServer;
  proxy?: ProxyServer;
}

const log = logger("daemon");

function warnAboutInsecureSettings(config: RuntimeConfig): void {
  for (const server of config.engine.servers) {
    if (server.security.kind === "tls" && !server.security.verifyServer) {
      log.warn(`${server.name}: TLS certificate verification is DISABLED (--insecure-disable-certificate-verification)`);
    }
  }
}

async function start(config: RuntimeConfig): Promise<Running> {
  const engine = createEngine(config.engine, { connectorFor, logger: logger("upstream") });
  const running: Running = { config, engine };
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
        ...(running.accounting ? { accounting: running.accounting } : {}),
      });
      log.info(`TACACS+ proxy listening on ${formatEndpoint(running.proxy.endpoint)}`);
    }
  } catch (error) {
    await stop(running, 0);
    throw error;
  }
  return running;
}

async function stop(running: Running, graceMs: number): Promise<void> {
  await Promise.allSettled([running.api?.close(graceMs), running.proxy?.close(graceMs)]);
  await running.accounting?.close();
  await running.engine.close();
}

/** Settings that only a restart applies: the listeners. */
function listenersChanged(a: RuntimeConfig, b: RuntimeConfig): boolean {
  const key = (c: RuntimeConfig) =>
    JSON.stringify([c.services, c.listenEndpoint, c.proxyEndpoint, c.socketMode, c.limits, c.accounting]);
  return key(a) !== key(b);
}

async function reload(running: Running, argv: string[], env: Record<string, string | undefined>, build: BuildInfo): Promise<void> {
  sdNotify("RELOADING=1");
  const outcome = await loadConfig(argv, env, build);
  if (outcome.kind === "exit") {
    log.error(`reload rejected, keeping the running configuration: ${outcome.stderr.trim() || "no configuration"}`);
  } else {
    for (const warning of outcome.warnings) log.warn(warning);
    if (listenersChanged(running.config, outcome.config)) {
      log.warn("listener settings changed: they take effect at the next restart");
    }
    setVerbosity(outcome.config.verbosity);
    running.engine.reconfigure(outcome.config.engine);
    running.config = outcome.config;
    warnAboutInsecureSettings(outcome.config);
    log.info(`configuration reloaded: ${outcome.config.engine.servers.length} upstream server(s) from ${outcome.config.source}`);
  }
  sdNotify("READY=1");
}

/** Runs until SIGTERM/SIGINT; returns the exit status. */
export async function runDaemon(argv: string[], env: Record<string, string | undefined>, build: BuildInfo): Promise<number> {
  const outcome = await loadConfig(argv, env, build);
  if (outcome.kind === "exit") {
    process.stdout.write(outcome.stdout);
    process.stderr.write(outcome.stderr);
    return outcome.code;
  }
  const { config } = outcome;
  setVerbosity(config.verbosity);
  guardAgainstDefects(log);
  for (const warning of outcome.warnings) log.warn(warning);
  warnAboutInsecureSettings(config);

  let running: Running;
  try {
    running = await start(config);
  } catch (error) {
    log.error(`cannot start: ${errorMessage(error)}`);
    return START_FAILURE_EXIT;
  }
  sdNotify("READY=1");
  log.info(`tacacsrs-agentd ${build.version} serving with ${config.engine.servers.length} upstream server(s) from ${config.source}`);
  // Startup warm-up runs after the listeners are up: requests are accepted meanwhile.
  void running.engine.warmUp();

  return new Promise((resolve) => {
    let stopping = false;
    const shutdown = (signal: string) => {
      if (stopping) return;
      stopping = true;
      sdNotify("STOPPING=1");
      log.info(`${signal}: stopping (grace ${running.config.limits.shutdownGraceMs} ms)`);
      void stop(running, running.config.limits.shutdownGraceMs).then(() => resolve(0));
    };
    let reloading = Promise.resolve();
    process.on("SIGTERM", () => shutdown("SIGTERM"));
    process.on("SIGINT", () => shutdown("SIGINT"));
    process.on("SIGHUP", () => {
      if (stopping) return;
      reloading = reloading.then(() => reload(running, argv, env, build)).catch((error) => log.error(`reload failed: ${errorMessage(error)}`));
    });
  });
}
