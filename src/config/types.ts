/**
 * The one frozen runtime configuration that the CLI and the YANG loader produce and that the
 * daemon hands, piece by piece, to the layers below.
 */
import type { Endpoint } from "../common/endpoint";
import type { Limits } from "../common/limits";
import type { LogFormat } from "../common/log-format";
import type { CertificateInfo } from "./certificates";
import type { Secret } from "../common/secret";
import type { EngineOptions } from "../upstream/types";

export type { Limits };


export interface AccountingConfig {
  /** --accounting-spool-dir: checked usable at load time; absent: no spool. */
  spoolDir?: string;
  spoolMaxBytes: number;
  /** --accounting-fan-out: the collectors by server name, in server order; absent: no fan-out. */
  fanOut?: string[];
  /** --accounting-log: one journal line per accepted record. */
  journal: boolean;
}

export interface RuntimeConfig {
  engine: EngineOptions;
  services: { clientApi: boolean; proxy: boolean };
  listenEndpoint: Endpoint;
  proxyEndpoint?: Endpoint;
  /** GET /metrics (Prometheus text, OpenMetrics); off when absent. */
  metricsEndpoint?: Endpoint;
  /** Permission bits of the Unix sockets, e.g. 0o660. */
  socketMode: number;
  /** Downstream secret of the proxy; when absent, the selected upstream's shared secret is used. */
  proxySharedSecret?: Secret;
  limits: Limits;
  /** 0 errors only … 4 trace. */
  verbosity: number;
  /** --log-format: text or one JSON object per line. */
  logFormat: LogFormat;
  /** Certificates named by the TLS servers, with their dates. */
  certificates: readonly CertificateInfo[];
  /** Warn this many days before a certificate expires (--certificate-expiry-warning-days). */
  certificateExpiryWarningDays: number;
  /** Accounting delivery (issue 15): all off unless their flags are given. */
  accounting: AccountingConfig;
  /** Where the upstream list came from, for logs: "command line" or the --config path. */
  source: string;
}
