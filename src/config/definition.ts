/**
 * The command line of tacacsrs-agentd, defined once with citty. The definition drives both
 * `--help` and our argv scanner (citty 0.2 keeps only the last of a repeated flag, cannot
 * count `-vvvv` and accepts unknown flags, so scanning is done in argv.ts).
 */
import { renderUsage, type ArgsDef } from "citty";
import { stripColour } from "../common/log-format";

/** Flags that may be given more than once; every other flag at most once. */
export const REPEATABLE = new Set(["server-addr", "verbose"]);

export const FLAGS = {
  "server-addr": { type: "string", valueHint: "ADDR", description: "Upstream TACACS+ server host[:port], [IPv6]:port; repeatable, in preference order (port 49, or 300 with --use-tls)" },
  config: { type: "string", valueHint: "FILE", description: "Load the upstream servers from a YANG JSON (RFC 7951, ietf-system-tacacs-plus) file instead of --server-addr" },
  "listen-endpoint": { type: "string", valueHint: "ENDPOINT", description: "Client API endpoint: absolute Unix socket path or loopback IP:port", default: "/run/tacacs/tacacs.sock" },
  "proxy-endpoint": { type: "string", valueHint: "ENDPOINT", description: "TACACS+ proxy endpoint: absolute Unix socket path or loopback IP:port (disabled by default)" },
  "service-mode": { type: "string", valueHint: "client-api|tacacs-proxy|both", description: "Services to host (default client-api, or both when --proxy-endpoint is set)" },
  "metrics-endpoint": { type: "string", valueHint: "ENDPOINT", description: "Serve Prometheus/OpenMetrics metrics at GET /metrics on a loopback IP:port or Unix socket path (disabled by default)" },
  "socket-mode": { type: "string", valueHint: "MODE", description: "Permission bits of the Unix sockets, octal", default: "660" },
  "shared-secret": { type: "string", alias: "k", valueHint: "KEY", description: "TACACS+ obfuscation secret (prefer --shared-secret-file or TACACSRS_SHARED_SECRET)" },
  "shared-secret-file": { type: "string", valueHint: "FILE", description: "Read the shared secret from FILE" },
  "use-tls": { type: "boolean", description: "TLS 1.3 to the upstream servers (RFC 9887)" },
  "client-certificate": { type: "string", valueHint: "FILE", description: "Client TLS certificate, PEM or DER (requires --client-key)" },
  "client-key": { type: "string", valueHint: "FILE", description: "Client TLS private key, PEM or DER (requires --client-certificate)" },
  "ca-certificate": { type: "string", valueHint: "FILE", description: "Extra trusted CA certificates, PEM bundle or DER, added to the system store" },
  "tls-server-name": { type: "string", valueHint: "NAME", description: "TLS server name (SNI) and identity to verify, e.g. when --server-addr is an IP address" },
  "insecure-disable-certificate-verification": { type: "boolean", description: "Skip TLS server certificate verification (testing only)" },
  "psk-identity": { type: "string", valueHint: "ID", description: "TLS 1.3 external PSK identity" },
  "psk-key": { type: "string", valueHint: "KEY", description: "TLS 1.3 external PSK: text, hex:..., or base64:...; at least 16 octets (prefer --psk-key-file or TACACSRS_PSK_KEY)" },
  "psk-key-file": { type: "string", valueHint: "FILE", description: "Read the PSK from FILE (same syntax as --psk-key)" },
  "psk-key-exchange": { type: "string", valueHint: "psk-dhe|psk-only", description: "PSK key exchange mode", default: "psk-dhe" },
  "psk-key-exchange-groups": { type: "string", valueHint: "GROUP[,GROUP...]", description: "PSK-DHE groups in preference order: secp384r1, secp256r1, x25519", default: "secp384r1,secp256r1" },
  "proxy-shared-secret": { type: "string", valueHint: "KEY", description: "Downstream secret of the proxy (default: the selected upstream's secret)" },
  "proxy-shared-secret-file": { type: "string", valueHint: "FILE", description: "Read the proxy's downstream secret from FILE" },
  "connect-timeout-seconds": { type: "string", valueHint: "SECS", description: "Upstream connect timeout", default: "5" },
  "preferred-probe-interval-seconds": { type: "string", valueHint: "SECS", description: "How often the preferred server is probed while failed over", default: "30" },
  "request-timeout-seconds": { type: "string", valueHint: "SECS", description: "Reply timeout per request and server (YANG timeout overrides it)", default: "5" },
  "max-api-streams": { type: "string", valueHint: "N", description: "Concurrent gRPC streams", default: "1024" },
  "max-api-streams-per-connection": { type: "string", valueHint: "N", description: "Concurrent gRPC streams on one API connection (SETTINGS_MAX_CONCURRENT_STREAMS), at most --max-api-streams", default: "100" },
  "max-api-watch-streams": { type: "string", valueHint: "N", description: "Concurrent health Watch streams (they may last for ever), a quarter of it per connection", default: "64" },
  "max-api-connections": { type: "string", valueHint: "N", description: "Open client API connections", default: "512" },
  "max-api-streams-per-peer": { type: "string", valueHint: "N", description: "Concurrent gRPC streams of one peer (a uid on the Unix socket; all TCP clients are one peer), at most --max-api-streams (default: half of it on a Unix socket, all of it on TCP)" },
  "max-api-connections-per-peer": { type: "string", valueHint: "N", description: "Open API connections of one peer (a uid on the Unix socket; all TCP clients are one peer), at most --max-api-connections (default: half of it on a Unix socket, all of it on TCP)" },
  "max-proxy-connections": { type: "string", valueHint: "N", description: "Concurrent proxy connections", default: "256" },
  "max-sessions-in-flight": { type: "string", valueHint: "N", description: "Sessions in flight per upstream server", default: "256" },
  "max-body-bytes": { type: "string", valueHint: "BYTES", description: "Largest TACACS+ body accepted, 1024..196356", default: "65536" },
  "proxy-idle-timeout-seconds": { type: "string", valueHint: "SECS", description: "Close a silent proxy connection after this long", default: "30" },
  "shutdown-grace-seconds": { type: "string", valueHint: "SECS", description: "How long SIGTERM waits for requests in flight", default: "10" },
  "accounting-spool-dir": { type: "string", valueHint: "DIR", description: "Keep accounting records that no server took on disk in DIR (0700, e.g. /var/lib/tacacsrs-agentd/spool) and deliver them oldest first once a server answers" },
  "accounting-spool-max-bytes": { type: "string", valueHint: "BYTES", description: "Bound of the accounting spool on disk; when full, new records are refused with a retriable error", default: "268435456" },
  "accounting-fan-out": { type: "string", valueHint: "all|NAME[,NAME...]", description: "Send every accounting record to each of these servers (all, or server names: host:port from --server-addr, the YANG name with --config), not only the active one" },
  "accounting-log": { type: "boolean", description: "Also write every accepted accounting record as one structured line to stderr (the journal under systemd)" },
  "certificate-expiry-warning-days": { type: "string", valueHint: "DAYS", description: "Warn at start, on SIGHUP and daily when a client or CA certificate expires within DAYS", default: "30" },
  "log-format": { type: "string", valueHint: "text|json", description: "Log lines as text or one JSON object per line (under systemd both get journal priority prefixes)", default: "text" },
  verbose: { type: "boolean", alias: "v", description: "More logs: -v warnings, -vv info, -vvv debug, -vvvv trace" },
  "check-config": { type: "boolean", description: "Validate the configuration (files, certificates, keys) and exit" },
  "print-config": { type: "boolean", description: "Print the effective configuration as JSON (secrets redacted) and exit" },
  version: { type: "boolean", description: "Print the version and built-in features and exit" },
  help: { type: "boolean", alias: "h", description: "Show this help and exit" },
} as const satisfies ArgsDef;

export type FlagName = keyof typeof FLAGS;

/** Environment variables that can carry secrets instead of argv. */
export const SECRET_ENV = {
  sharedSecret: "TACACSRS_SHARED_SECRET",
  pskKey: "TACACSRS_PSK_KEY",
  proxySharedSecret: "TACACSRS_PROXY_SHARED_SECRET",
} as const;

/** The environment the daemon reads, and its exit statuses: in `--help` and in tacacsrs-agentd(8). */
export const ENVIRONMENT: readonly (readonly [string, string])[] = [
  [SECRET_ENV.sharedSecret, "shared secret, when neither --shared-secret nor --shared-secret-file is given"],
  [SECRET_ENV.pskKey, "TLS PSK, when neither --psk-key nor --psk-key-file is given"],
  [SECRET_ENV.proxySharedSecret, "proxy downstream secret, when neither flag form is given"],
];

export const CONFIG_FILE_NOTE = `With --config, the YANG document sets each server's security; of the upstream security flags
only --psk-key-exchange and --psk-key-exchange-groups apply (to tls13-epsk servers).`;

export const EXIT_STATUS: readonly (readonly [string, string])[] = [
  ["0", "running, or --help, --version, --check-config, --print-config done"],
  ["2", "configuration error: one line on stderr names the flag, file or JSON path"],
  ["143", "--check-config or --print-config stopped by SIGTERM before its answer (130: SIGINT)"],
];

const EPILOGUE = `ENVIRONMENT

${ENVIRONMENT.map(([name, text]) => `  ${name.padEnd(28)}  ${text}`).join("\n")}

${CONFIG_FILE_NOTE}

EXIT STATUS

${EXIT_STATUS.map(([code, text]) => `  ${code.padEnd(3)}  ${text}`).join("\n")}
`;

/** The one-line summary of the daemon: in `--help` and the NAME of tacacsrs-agentd(8). */
export const DESCRIPTION = "TACACS+ agent daemon (RFC 8907, TLS 1.3 per RFC 9887)";

/** citty's usage text, without terminal colours (it may go to a file or a journal). */
export async function renderHelp(version: string): Promise<string> {
  const usage = await renderUsage({
    meta: { name: "tacacsrs-agentd", version, description: DESCRIPTION },
    args: FLAGS,
  });
  const plain = stripColour(usage).replace(/[ \t]+$/gm, "");
  return `${plain}\n${EPILOGUE}`;
}
