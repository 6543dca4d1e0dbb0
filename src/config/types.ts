/**
 * The one frozen runtime configuration that the CLI and the YANG loader produce and that the
 * daemon hands, piece by piece, to the layers below.
 */
import type { Endpoint } from "../common/endpoint";
import type { Secret } from "../common/secret";
import type { EngineOptions } from "../upstream/types";

export interface Limits {
  /** Concurrent gRPC streams over all API connections. */
  maxApiStreams: number;
  /** Concurrent downstream proxy connections. */
  maxProxyConnections: number;
  /** Largest TACACS+ body accepted, from upstream or downstream (RFC 8907 allows 2^32-1; we cap). */
  maxBodyBytes: number;
  /** Largest gRPC message (4 MiB by default). */
  maxGrpcMessageBytes: number;
  /** A downstream proxy connection that sends nothing for this long is closed. */
  proxyIdleTimeoutMs: number;
  /** How long SIGTERM waits for in-flight requests. */
  shutdownGraceMs: number;
}

export interface RuntimeConfig {
  engine: EngineOptions;
  services: { clientApi: boolean; proxy: boolean };
  listenEndpoint: Endpoint;
  proxyEndpoint?: Endpoint;
  /** Permission bits of the Unix sockets, e.g. 0o660. */
  socketMode: number;
  /** Downstream secret of the proxy; when absent, the selected upstream's shared secret is used. */
  proxySharedSecret?: Secret;
  limits: Limits;
  /** 0 errors only … 4 trace. */
  verbosity: number;
  /** Where the upstream list came from, for logs: "command line" or the --config path. */
  source: string;
}
