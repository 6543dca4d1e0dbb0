/**
 * The proxy service's contract with the daemon: start a downstream TACACS+ listener that maps
 * each accepted connection onto one upstream session of the engine.
 */
import type { Endpoint } from "../common/endpoint";
import type { Logger } from "../common/log";
import type { EntryPointMetrics } from "../common/request-metrics";
import type { Secret } from "../common/secret";
import type { Limits } from "../common/limits";
import type { Clock } from "../upstream/clock";
import type { AccountingDelivery } from "../accounting";
import type { UpstreamEngine } from "../upstream/types";
import type { ProxyCounters } from "./connection-bridge";

export type ProxyLimits = Pick<Limits, "maxProxyConnections" | "proxyIdleTimeoutMs" | "maxBodyBytes">;

export interface ProxyOptions {
  /** Unix socket or loopback TCP; anything else is refused with ProxyConfigError. */
  endpoint: Endpoint;
  /** Permission bits of a Unix socket endpoint (the API socket's --socket-mode). */
  socketMode: number;
  engine: UpstreamEngine;
  /**
   * The downstream key (--proxy-shared-secret); when it returns undefined, the upstream servers'
   * shared secrets are used (see downstream-keys.ts). Read for every new connection, like
   * serverSecrets, so a SIGHUP reconfiguration applies.
   */
  proxySharedSecret: () => Secret | undefined;
  /**
   * Shared secrets of the configured upstream servers in preference order, read for every new
   * connection so a SIGHUP reconfiguration applies (e.g. `() => config.engine.servers.map((s) => s.sharedSecret)`).
   */
  serverSecrets: () => readonly (Secret | undefined)[];
  limits: ProxyLimits;
  logger: Logger;
  /** Requests by type and outcome and connections, counted in place (metrics). */
  metrics?: EntryPointMetrics;
  /** Idle timers and upstream deadlines; the system clock by default. */
  clock?: Clock;
  /** Accounting spool and journal (--accounting-*); absent: accounting is bridged as is. */
  accounting?: AccountingDelivery;
}

export interface ProxyServer {
  /** The bound endpoint (a TCP port 0 is replaced by the port the system chose). */
  readonly endpoint: Endpoint;
  /** Downstream connections currently open. */
  connections(): number;
  /** Refusals and cut-offs per reason (plain live numbers, for Status and metrics). */
  readonly counters: ProxyCounters;
  /**
   * Stops accepting, lets connections in flight finish for up to `graceMs`, then closes the
   * rest (their upstream sessions end) and removes a Unix socket file. Idempotent.
   */
  close(graceMs: number): Promise<void>;
}

/** A proxy configuration refused at start (non-loopback address, unusable socket path). */
export class ProxyConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ProxyConfigError";
  }
}
