/**
 * The connections to one server: the persistent single-connect connection (RFC 8907 §4.3), or a
 * connection per session when the server does not support it; single-flight connect; the bound on
 * sessions in flight; RFC 9105 counters.
 */
import { Histogram } from "../common/histogram";
import { newLatencyByType, type RequestType } from "../common/request-metrics";
import type { Logger } from "../common/log";
import type { PacketType } from "../protocol";
import { TransportError, type Connector } from "../transport/types";
import type { Clock, Random } from "./clock";
import { Connection, type ServerContext, type SessionSlot } from "./connection";
import type { ConnectionState } from "./connection-state";
import { newCounters, newHandshakeFailureCounts, type Counters } from "./counters";
import { ExchangeError } from "./errors";
import type { ServerStatus, UpstreamServer } from "./types";
import { errorMessage } from "../common/error-message";

export interface PoolDeps {
  connector: Connector;
  clock: Clock;
  random: Random;
  log: Logger;
  connectTimeoutMs: number;
  maxSessionsInFlight: number;
  maxBodyBytes: number | undefined;
}

export interface OpenedSession {
  connection: Connection;
  slot: SessionSlot;
}

const closeUnused = (connection: Connection): void => connection.close("not needed any more", false);

/** Bounds the loop of openSession: connect, wait for negotiation, retry once after a lost connection. */
const MAX_ACQUIRE_STEPS = 8;

function stateOf(connection: Connection): ConnectionState["name"] {
  return connection.state.name;
}

/** How connections to a server are secured, for metrics: tcp, certificate (TLS 1.3), psk-dhe or psk-only. */
function securityMode(security: UpstreamServer["security"]): ServerStatus["security"] {
  if (security.kind === "tls") return "certificate";
  return security.kind === "psk" ? security.keyExchange : "tcp";
}

export class ServerPool {
  readonly server: UpstreamServer;
  /** Seconds from sending a session's first packet to its reply, by type; made with the pool (configuration time). */
  readonly replyLatency: Readonly<Record<RequestType, Histogram>> = newLatencyByType();
  /** Seconds to open a connection: TCP connect, plus the TLS or TLS-PSK handshake when there is one. */
  readonly connectLatency = new Histogram();
  readonly counters: Counters = newCounters();
  /** Failed TLS handshakes by reason (the transport's classification). */
  readonly tlsHandshakeFailures = newHandshakeFailureCounts();
  readonly #deps: PoolDeps;
  readonly #ctx: ServerContext;
  #singleConnect: ServerStatus["singleConnect"] = "unknown";
  /** The persistent connection new sessions share (single-connect servers only). */
  #shared: Connection | undefined;
  /** The one connect attempt others wait for: the shared connection's, or while reachability is unknown. */
  #connecting: Promise<Connection> | undefined;
  readonly #connections = new Set<Connection>();
  #sessionsInFlight = 0;
  /** The last connect attempt succeeded. */
  #reachable = false;
  #draining = false;
  #closed = false;

  constructor(server: UpstreamServer, deps: PoolDeps) {
    this.server = server;
    this.#deps = deps;
    this.#ctx = {
      server,
      counters: this.counters,
      clock: deps.clock,
      random: deps.random,
      log: deps.log,
      maxBodyBytes: deps.maxBodyBytes,
      onStateChange: (connection) => this.#onStateChange(connection),
      onSessionEnded: (connection) => this.#onSessionEnded(connection),
    };
  }

  get #usesSingleConnect(): boolean {
    return this.server.singleConnection && this.#singleConnect !== "unsupported";
  }

  /**
   * Starts a session on a usable connection, connecting (single-flight) when needed. A request
   * waiting for a connection already counts towards maxSessionsInFlight, so no unbounded queue forms.
   * Synchronous on the hot path, a shared connection that takes sessions now; throws ExchangeError.
   * `now` is the caller's fresh clock reading.
   */
  openSession(type: PacketType, version: number, deadline: number, now: number): OpenedSession | Promise<OpenedSession> {
    this.#checkUsable(deadline, now);
    if (this.#sessionsInFlight >= this.#deps.maxSessionsInFlight) {
      throw new ExchangeError(`${this.server.name} has ${this.#sessionsInFlight} sessions in flight (the limit)`, "busy", false);
    }
    this.#sessionsInFlight++;
    const shared = this.#usesSingleConnect ? this.#shared : undefined;
    const state = shared?.state.name;
    try {
      if (shared && (state === "Ready" || state === "Multiplexing")) return this.#start(shared, type, version);
    } catch (error) {
      this.#sessionsInFlight--;
      throw error;
    }
    return this.#acquire(type, version, deadline).catch((error: unknown) => {
      this.#sessionsInFlight--;
      throw error;
    });
  }

  async #acquire(type: PacketType, version: number, deadline: number): Promise<OpenedSession> {
    for (let step = 0; step < MAX_ACQUIRE_STEPS; step++) {
      if (step > 0) this.#checkUsable(deadline);
      if (this.#usesSingleConnect) {
        const shared = this.#shared;
        if (!shared) {
          await this.#singleFlight(true, deadline);
          continue;
        }
        switch (shared.state.name) {
          case "Ready":
          case "Multiplexing":
            return this.#start(shared, type, version);
          case "Negotiating":
            // Nothing else may be sent until the first reply says whether the server multiplexes.
            await this.#until(shared.changed(), deadline);
            // (state read anew: the await changed it, which the narrowing above cannot know)
            if (stateOf(shared) === "Closed" && this.#singleConnect !== "unsupported") {
              // The first request got no reply: the server is failing. This one was never sent, so
              // it moves on to the next server now instead of queueing behind another try here.
              throw new ExchangeError(`${this.server.name} did not answer the first request on a new connection`, "connect", false);
            }
            continue;
          default:
            if (this.#shared === shared) this.#shared = undefined;
            continue;
        }
      }
      if (!this.#reachable) {
        // Reachability unknown: one connect runs, the others wait for its verdict.
        if (this.#connecting) await this.#until(this.#connecting, deadline);
        else {
          const connection = await this.#singleFlight(false, deadline, closeUnused);
          if (connection.state.name === "Ready") return this.#start(connection, type, version);
        }
        continue;
      }
      const connection = await this.#until(this.#connect(false), deadline, closeUnused);
      if (connection.state.name === "Ready") return this.#start(connection, type, version);
    }
    throw new ExchangeError(`no usable connection to ${this.server.name}`, "lost", false);
  }

  /** Makes sure the server is reachable: warms the shared connection, or connects and closes. */
  async warm(deadline: number): Promise<void> {
    this.#checkUsable(deadline);
    if (this.#usesSingleConnect) {
      const state = this.#shared?.state.name;
      if (state !== "Ready" && state !== "Negotiating" && state !== "Multiplexing") await this.#singleFlight(true, deadline);
      return;
    }
    closeUnused(await this.#until(this.#connect(false), deadline, closeUnused));
  }

  status(): ServerStatus {
    const { host, port } = this.server;
    let connected = false;
    for (const connection of this.#connections) if (connection.state.name !== "Connecting") connected = true;
    return {
      name: this.server.name,
      address: host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`,
      connected,
      singleConnect: this.server.singleConnection ? this.#singleConnect : "unsupported",
      sessionsInFlight: this.#sessionsInFlight,
      replyLatency: this.replyLatency,
      connectLatency: this.connectLatency,
      security: securityMode(this.server.security),
      tlsHandshakeFailures: { ...this.tlsHandshakeFailures },
      counters: { ...this.counters },
    };
  }

  /** Stops taking sessions (reconfiguration): idle connections close now, busy ones when their sessions end. */
  drain(): void {
    this.#draining = true;
    this.#shared = undefined;
    for (const connection of [...this.#connections]) {
      if (connection.sessionsInFlight === 0) connection.close("server removed by reconfiguration", false);
    }
  }

  /** Closes every connection; sessions in flight fail as cancelled. */
  close(): void {
    this.#closed = true;
    this.#shared = undefined;
    const cancelled = new ExchangeError("the upstream engine is shutting down", "cancelled", false);
    for (const connection of [...this.#connections]) connection.close("engine closed", false, cancelled);
  }

  #checkUsable(deadline: number, now = this.#deps.clock.now()): void {
    if (this.#closed) throw new ExchangeError("the upstream engine is shutting down", "cancelled", false);
    if (this.#draining) throw new ExchangeError(`${this.server.name} was removed from the configuration`, "lost", false);
    if (now >= deadline) throw new ExchangeError(`deadline passed before reaching ${this.server.name}`, "deadline", false);
  }

  #start(connection: Connection, type: PacketType, version: number): OpenedSession {
    return { connection, slot: connection.startSession(type, version) };
  }

  /**
   * The shared connect attempt, or the one that decides reachability; everyone awaits the same one,
   * each until their own deadline. The attempt itself always gets the full connect timeout.
   */
  #singleFlight(shared: boolean, deadline: number, onLate?: (connection: Connection) => void): Promise<Connection> {
    if (!this.#connecting) {
      const attempt = this.#connect(shared);
      this.#connecting = attempt;
      const done = (): void => {
        if (this.#connecting === attempt) this.#connecting = undefined;
      };
      attempt.then((connection) => {
        if (shared) this.#shared = connection;
        done();
      }, done);
    }
    return this.#until(this.#connecting, deadline, onLate);
  }

  async #connect(offerSingleConnect: boolean): Promise<Connection> {
    const { connector, connectTimeoutMs, log } = this.#deps;
    const connection = new Connection(this.#ctx, offerSingleConnect);
    this.#connections.add(connection);
    const started = performance.now();
    try {
      await connection.open(connector, connectTimeoutMs);
      this.connectLatency.observe((performance.now() - started) / 1000);
    } catch (error) {
      this.#connections.delete(connection);
      if (error instanceof ExchangeError) throw error;
      this.counters.connectionFailures++;
      if (error instanceof TransportError && error.kind === "timeout") this.counters.connectionTimeouts++;
      if (error instanceof TransportError && error.handshakeFailure) this.tlsHandshakeFailures[error.handshakeFailure]++;
      this.#reachable = false;
      // The server may come back as different software: learn single-connect support again.
      this.#singleConnect = "unknown";
      const reason = errorMessage(error);
      log.warn(`${this.server.name}: ${reason}`);
      throw new ExchangeError(`${this.server.name}: ${reason}`, "connect", false);
    }
    this.counters.connectionOpens++;
    this.#reachable = true;
    log.debug(`${this.server.name}: connected${offerSingleConnect ? " (offering single-connect)" : ""}`);
    if (this.#closed) {
      connection.close("engine closed", false);
      throw new ExchangeError("the upstream engine is shutting down", "cancelled", false);
    }
    return connection;
  }

  /**
   * Awaits `promise` until the caller's deadline ("deadline", never delivered). `onLate` receives
   * a value that arrives after the caller gave up (a connection nobody will use).
   */
  #until<T>(promise: Promise<T>, deadline: number, onLate?: (value: T) => void): Promise<T> {
    const { clock } = this.#deps;
    return new Promise<T>((resolve, reject) => {
      let expired = false;
      const timer = clock.setTimer(() => {
        expired = true;
        reject(new ExchangeError(`deadline passed while waiting for a connection to ${this.server.name}`, "deadline", false));
      }, deadline - clock.now());
      promise.then(
        (value) => {
          clock.clearTimer(timer);
          if (expired) onLate?.(value);
          resolve(value);
        },
        (error: unknown) => {
          clock.clearTimer(timer);
          reject(error);
        },
      );
    });
  }

  #onStateChange(connection: Connection): void {
    const state = connection.state.name;
    if (state === "Multiplexing" && this.#singleConnect !== "supported") {
      this.#singleConnect = "supported";
      this.#deps.log.info(`${this.server.name}: single-connect supported; sessions share one connection`);
    } else if (state === "PerSession" && connection === this.#shared) {
      this.#shared = undefined;
      this.#singleConnect = "unsupported";
      this.#deps.log.info(`${this.server.name}: single-connect not supported; using a connection per session`);
    } else if (state === "Closed") {
      this.#connections.delete(connection);
      if (connection === this.#shared) this.#shared = undefined;
      if (connection.closedAfterSession && this.#singleConnect === "supported") {
        this.#singleConnect = "unsupported";
        this.#deps.log.info(`${this.server.name}: closes connections after each session; using a connection per session`);
      }
    }
  }

  #onSessionEnded(connection: Connection): void {
    this.#sessionsInFlight--;
    if (this.#draining && connection.sessionsInFlight === 0) connection.close("server removed by reconfiguration", false);
  }
}
