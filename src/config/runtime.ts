/**
 * From scanned flags (and the YANG document when --config is given) to the one frozen
 * RuntimeConfig. Reads files; opens no socket, resolves no name, touches no global state.
 */
import { formatEndpoint, type Endpoint } from "../common/endpoint";
import { Secret } from "../common/secret";
import type { UpstreamServer } from "../upstream/types";
import { DEFAULT_PORT, parseEndpoint, parseServerAddress, sameEndpoint } from "./address";
import { SECRET_ENV } from "./definition";
import { ConfigError, fail } from "./errors";
import { readInputFile, sharedFileWarning } from "./files";
import { SECURITY_FLAGS, pskExchangeFromFlags, securityFromFlags } from "./flag-security";
import type { Flags } from "./scanned";
import { resolveSecretText } from "./secrets";
import type { AccountingConfig, Limits, RuntimeConfig } from "./types";
import { refuseSelfLoop } from "./self-loop";
import { boundedInteger, checked, logFormat, seconds, serviceMode, socketMode } from "./values";
import { FAN_OUT_LEAF, serversFromYang, type YangServers } from "./yang/document";
import { certificateInventory } from "./certificates";
import { spoolDirectoryProblem } from "../accounting/directory";
import { peerShare } from "../common/limits";

/** RFC 8907 §10.5.1: administrators SHOULD use secrets of at least 16 characters. */
const RECOMMENDED_SECRET_LENGTH = 16;
/** Upper bound of --max-body-bytes. */
const MAX_BODY_BYTES = 196_356;
const MAX_GRPC_MESSAGE_BYTES = 4 * 1024 * 1024;

type Env = Record<string, string | undefined>;

/**
 * A per-peer limit: at most its listener-wide limit. By default peerShare of it on the Unix
 * socket; on TCP every client is the one peer "tcp", so a share would only shrink the listener.
 */
function perPeer(flags: Flags, name: "max-api-streams" | "max-api-connections", limit: number, listen: Endpoint): number {
  const given = flags.given(`${name}-per-peer`);
  if (given === undefined) return listen.kind === "unix" ? peerShare(limit) : limit;
  return checked(boundedInteger(1, limit), `--${name}-per-peer (at most --${name})`, given);
}

function limits(flags: Flags, listen: Endpoint): Limits {
  const maxApiStreams = checked(boundedInteger(1, 100_000), "--max-api-streams", flags.value("max-api-streams"));
  const maxApiConnections = checked(boundedInteger(1, 65_535), "--max-api-connections", flags.value("max-api-connections"));
  return {
    maxApiStreams,
    maxApiStreamsPerConnection: checked(boundedInteger(1, 100_000), "--max-api-streams-per-connection", flags.value("max-api-streams-per-connection")),
    maxApiWatchStreams: checked(boundedInteger(1, 100_000), "--max-api-watch-streams", flags.value("max-api-watch-streams")),
    maxApiConnections,
    maxApiStreamsPerPeer: perPeer(flags, "max-api-streams", maxApiStreams, listen),
    maxApiConnectionsPerPeer: perPeer(flags, "max-api-connections", maxApiConnections, listen),
    maxProxyConnections: checked(boundedInteger(1, 65_535), "--max-proxy-connections", flags.value("max-proxy-connections")),
    maxBodyBytes: checked(boundedInteger(1024, MAX_BODY_BYTES), "--max-body-bytes", flags.value("max-body-bytes")),
    maxGrpcMessageBytes: MAX_GRPC_MESSAGE_BYTES,
    proxyIdleTimeoutMs: checked(seconds(1, 86_400), "--proxy-idle-timeout-seconds", flags.value("proxy-idle-timeout-seconds")),
    shutdownGraceMs: checked(seconds(1, 3600), "--shutdown-grace-seconds", flags.value("shutdown-grace-seconds")),
  };
}

/** Smallest --accounting-spool-max-bytes: room for a few large records. */
const MIN_SPOOL_BYTES = 64 * 1024;
/** Largest --accounting-spool-max-bytes (8 GiB). */
const MAX_SPOOL_BYTES = 8 * 1024 * 1024 * 1024;

/** --accounting-fan-out: "all" or server names, returned in server order. */
function fanOutCollectors(text: string, servers: readonly UpstreamServer[]): string[] {
  const names = servers.map((server) => server.name);
  if (text === "all") return names;
  const wanted = text.split(",").map((name) => name.trim());
  for (const name of wanted) {
    if (!names.includes(name)) fail("--accounting-fan-out", `no server is named "${name}" (servers: ${names.join(", ")})`);
  }
  if (new Set(wanted).size !== wanted.length) fail("--accounting-fan-out", "a server is named twice");
  return names.filter((name) => wanted.includes(name));
}

/**
 * The accounting delivery flags; the spool directory must be usable now (start and --check-config).
 * The fan-out collectors come from --accounting-fan-out or from the --config document
 * (`yangFanOut`, servers marked tacacsrs-agentd:accounting-fan-out), never both.
 */
function accounting(flags: Flags, servers: readonly UpstreamServer[], warnings: string[], yangFanOut: string[] | undefined): AccountingConfig {
  const spoolDir = flags.given("accounting-spool-dir");
  const spoolMaxBytes = checked(boundedInteger(MIN_SPOOL_BYTES, MAX_SPOOL_BYTES), "--accounting-spool-max-bytes", flags.value("accounting-spool-max-bytes"));
  if (spoolDir === undefined && flags.has("accounting-spool-max-bytes")) warnings.push("--accounting-spool-max-bytes: unused without --accounting-spool-dir");
  if (spoolDir !== undefined) {
    const problem = spoolDirectoryProblem(spoolDir);
    if (problem) fail(`--accounting-spool-dir ${spoolDir}`, problem);
  }
  const fanOutText = flags.given("accounting-fan-out");
  if (fanOutText !== undefined && yangFanOut !== undefined) fail("--accounting-fan-out", `the --config document names the collectors (${FAN_OUT_LEAF}); name them in one place`);
  const fanOut = fanOutText === undefined ? yangFanOut : fanOutCollectors(fanOutText, servers);
  return {
    ...(spoolDir === undefined ? {} : { spoolDir }),
    spoolMaxBytes,
    ...(fanOut === undefined ? {} : { fanOut }),
    journal: flags.on("accounting-log"),
  };
}

interface Services {
  services: RuntimeConfig["services"];
  listenEndpoint: Endpoint;
  proxyEndpoint?: Endpoint;
  metricsEndpoint?: Endpoint;
}

/** --service-mode and the endpoints, with the reference's defaults and rejections. */
function services(flags: Flags, warnings: string[]): Services {
  const listenEndpoint = parseEndpoint(flags.value("listen-endpoint"), "--listen-endpoint");
  const proxyText = flags.given("proxy-endpoint");
  const proxyEndpoint = proxyText === undefined ? undefined : parseEndpoint(proxyText, "--proxy-endpoint");
  const givenMode = flags.given("service-mode");
  const mode = givenMode === undefined ? (proxyEndpoint ? "both" : "client-api") : checked(serviceMode, "--service-mode", givenMode);
  const hosted = { clientApi: mode !== "tacacs-proxy", proxy: mode !== "client-api" };
  if (hosted.proxy && !proxyEndpoint) fail("--service-mode", `${mode} requires --proxy-endpoint`);
  if (!hosted.proxy && proxyEndpoint) fail("--proxy-endpoint", "not used with --service-mode client-api; use --service-mode both, or drop --proxy-endpoint");
  if (!hosted.clientApi && flags.has("listen-endpoint")) warnings.push("--listen-endpoint: unused with --service-mode tacacs-proxy");
  if (hosted.clientApi && proxyEndpoint && sameEndpoint(listenEndpoint, proxyEndpoint)) {
    fail("--proxy-endpoint", "must differ from --listen-endpoint when both services run");
  }
  const metricsText = flags.given("metrics-endpoint");
  const metricsEndpoint = metricsText === undefined ? undefined : parseEndpoint(metricsText, "--metrics-endpoint");
  for (const other of [listenEndpoint, proxyEndpoint]) {
    if (metricsEndpoint && other && sameEndpoint(metricsEndpoint, other)) fail("--metrics-endpoint", "must differ from --listen-endpoint and --proxy-endpoint");
  }
  return { services: hosted, listenEndpoint, ...(proxyEndpoint ? { proxyEndpoint } : {}), ...(metricsEndpoint ? { metricsEndpoint } : {}) };
}

function secretWarnings(secret: Secret | undefined, origin: string, warnings: string[]): void {
  if (secret && secret.length < RECOMMENDED_SECRET_LENGTH) {
    warnings.push(`${origin}: shorter than ${RECOMMENDED_SECRET_LENGTH} characters (RFC 8907 §10.5.1 recommends at least 16)`);
  }
}

async function serversFromFlags(flags: Flags, env: Env, timeoutMs: number, warnings: string[]): Promise<UpstreamServer[]> {
  const security = await securityFromFlags(flags, env, warnings);
  const secretText = await resolveSecretText(
    { flag: "shared-secret", fileFlag: "shared-secret-file", envName: SECRET_ENV.sharedSecret, flagValue: flags.given("shared-secret"), fileValue: flags.given("shared-secret-file"), env },
    warnings,
  );
  const sharedSecret = secretText && Secret.fromText(secretText.text);
  if (secretText) secretWarnings(sharedSecret, secretText.origin, warnings);
  if (!sharedSecret && security.kind === "tcp") {
    warnings.push("no shared secret: packets to the plain-TCP servers are sent unobfuscated (TAC_PLUS_UNENCRYPTED_FLAG)");
  }
  const defaultPort = security.kind === "tcp" ? DEFAULT_PORT.plain : DEFAULT_PORT.tls;
  const seen = new Set<string>();
  return flags.all("server-addr").map((text) => {
    const { host, port } = parseServerAddress(text, defaultPort, "--server-addr");
    const name = formatEndpoint({ kind: "tcp", host, port });
    if (seen.has(name)) fail("--server-addr", `${name} is given more than once`);
    seen.add(name);
    return { name, host, port, sharedSecret, security, singleConnection: true, timeoutMs };
  });
}

async function serversFromFile(path: string, flags: Flags, env: Env, timeoutMs: number, warnings: string[]): Promise<YangServers> {
  const stray = SECURITY_FLAGS.find((name) => name !== "psk-key-exchange" && name !== "psk-key-exchange-groups" && flags.has(name));
  if (stray) fail(`--${stray}`, "cannot be combined with --config: the YANG document sets each server's security");
  for (const name of [SECRET_ENV.sharedSecret, SECRET_ENV.pskKey]) {
    if (env[name] !== undefined) warnings.push(`${name}: ignored with --config (the YANG document holds the upstream secrets)`);
  }
  const file = await readInputFile(path, "--config");
  let document: unknown;
  try {
    document = JSON.parse(new TextDecoder().decode(file.bytes));
  } catch (error) {
    // JSON.parse names the offending position, never more than a token of the content.
    return fail(`--config ${path}`, `not valid JSON (${(error as Error).message.split("\n")[0]})`);
  }
  const yangWarnings: string[] = [];
  let loaded;
  try {
    loaded = serversFromYang(document, { timeoutMs, psk: pskExchangeFromFlags(flags) }, yangWarnings);
  } catch (error) {
    if (error instanceof ConfigError) throw new ConfigError(`--config ${path}: ${error.message}`);
    throw error;
  }
  warnings.push(...yangWarnings.map((warning) => `--config ${path}: ${warning}`));
  const pskServers = loaded.servers.filter((server) => server.security.kind === "psk");
  for (const name of ["psk-key-exchange", "psk-key-exchange-groups"] as const) {
    if (flags.has(name) && pskServers.length === 0) fail(`--${name}`, "no server of --config uses a tls13-epsk client identity");
  }
  for (const server of loaded.servers) {
    if (server.sharedSecret) secretWarnings(server.sharedSecret, `--config ${path}: server '${server.name}' shared-secret`, warnings);
  }
  if (loaded.holdsSecrets && file.shared) warnings.push(sharedFileWarning("--config", path));
  return loaded;
}

/**
 * Without --proxy-shared-secret the proxy speaks to its clients with the selected upstream's
 * secret (or unencrypted), so differing upstream secrets break clients after a failover.
 */
function proxySecretWarnings(servers: readonly UpstreamServer[], warnings: string[]): void {
  const secrets = new Set(servers.map((server) => (server.sharedSecret ? Buffer.from(server.sharedSecret.reveal()).toString("hex") : "")));
  if (secrets.size > 1) {
    warnings.push("the proxy uses the selected upstream's shared secret downstream, and the upstream secrets differ (or some are missing); set --proxy-shared-secret or use one secret");
  }
}

/** Builds the RuntimeConfig; throws ConfigError on the first bad input. `now` dates certificates. */
export async function buildRuntimeConfig(flags: Flags, env: Env, warnings: string[], now: number): Promise<RuntimeConfig> {
  const addresses = flags.all("server-addr");
  const configPath = flags.given("config");
  if (addresses.length === 0 && configPath === undefined) fail("--server-addr", "no upstream server: give --server-addr (repeatable) or --config FILE");
  if (addresses.length > 0 && configPath !== undefined) fail("--config", "give either --server-addr or --config, not both");
  const timeoutMs = checked(seconds(1, 65_535), "--request-timeout-seconds", flags.value("request-timeout-seconds"));
  const engine = {
    connectTimeoutMs: checked(seconds(1, 300), "--connect-timeout-seconds", flags.value("connect-timeout-seconds")),
    probeIntervalMs: checked(seconds(1, 86_400), "--preferred-probe-interval-seconds", flags.value("preferred-probe-interval-seconds")),
    maxSessionsInFlight: checked(boundedInteger(1, 65_535), "--max-sessions-in-flight", flags.value("max-sessions-in-flight")),
  };
  const hosted = services(flags, warnings);
  const mode = checked(socketMode, "--socket-mode", flags.value("socket-mode"));
  if (mode & 0o007) warnings.push(`--socket-mode ${flags.value("socket-mode")}: every local user may use the sockets`);
  const proxySecretText = await resolveSecretText(
    { flag: "proxy-shared-secret", fileFlag: "proxy-shared-secret-file", envName: SECRET_ENV.proxySharedSecret, flagValue: flags.given("proxy-shared-secret"), fileValue: flags.given("proxy-shared-secret-file"), env },
    warnings,
  );
  const proxySharedSecret = proxySecretText && Secret.fromText(proxySecretText.text);
  if (proxySecretText) {
    secretWarnings(proxySharedSecret, proxySecretText.origin, warnings);
    if (!hosted.services.proxy) warnings.push(`${proxySecretText.origin}: unused, the proxy service is not hosted`);
  }
  const loaded: Pick<YangServers, "servers" | "fanOut"> =
    configPath === undefined ? { servers: await serversFromFlags(flags, env, timeoutMs, warnings) } : await serversFromFile(configPath, flags, env, timeoutMs, warnings);
  const { servers } = loaded;
  if (hosted.services.proxy && !proxySharedSecret) proxySecretWarnings(servers, warnings);
  if (hosted.services.proxy) await refuseSelfLoop(configPath ?? "--server-addr", servers, hosted.proxyEndpoint);
  const limitValues = limits(flags, hosted.listenEndpoint);
  return {
    engine: { servers, ...engine, maxBodyBytes: limitValues.maxBodyBytes },
    ...hosted,
    socketMode: mode,
    ...(proxySharedSecret ? { proxySharedSecret } : {}),
    limits: limitValues,
    accounting: accounting(flags, servers, warnings, loaded.fanOut),
    verbosity: Math.min(flags.scanned.verbosity, 4),
    logFormat: checked(logFormat, "--log-format", flags.value("log-format")),
    certificates: certificateInventory(servers),
    certificateExpiryWarningDays: checked(boundedInteger(1, 3650), "--certificate-expiry-warning-days", flags.value("certificate-expiry-warning-days")),
    source: configPath ?? "command line",
  };
}
