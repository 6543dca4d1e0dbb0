/**
 * The upstream engine: ordered failover over the configured servers (the reference's
 * "Failover Behaviour"), preferred-server probing, startup warm-up, and the session objects the
 * services use. Connection handling lives in ServerPool and Connection.
 *
 * Rules for not losing or duplicating requests:
 * - a request that fails before it was written anywhere moves on to the next server, within the
 *   caller's deadline;
 * - a connection that dies after the request was written: an authentication or authorization
 *   request is sent again once on a fresh connection (then fails over); a non-resendable request
 *   (accounting) is never re-sent and fails with a retriable error;
 * - an ERROR reply (RFC 8907 §4.4: the server could not serve) fails over; FAIL and FOLLOW are
 *   answers and are returned as they are (failing over after FAIL would lock users out).
 *
 * Probe: while FailedOver, every probeIntervalMs ±10% the engine opens a connection to server 0
 * (a TCP connect, or a completed TLS / TLS-PSK handshake; no TACACS+ packet is sent). It is kept
 * as server 0's shared connection when single-connect is in use, else closed at once. Success
 * routes new requests back to server 0.
 */
import type { Cancellation } from "../common/cancellation";
import { requestTypeOf } from "../common/request-metrics";
import { logger, type Logger } from "../common/log";
import { PacketType, replyStatus } from "../protocol";
import { connectorFor } from "../transport";
import type { Connector, TransportSecurity } from "../transport/types";
import { systemClock, systemRandom, type Clock, type Random } from "./clock";
import type { Connection, SessionSlot } from "./connection";
import { ExchangeError } from "./errors";
import { describeFailoverState, initialFailoverState, startIndex, transition, type FailoverEvent, type FailoverState } from "./failover";
import { isErrorStatus } from "./replies";
import { ServerPool, type OpenedSession } from "./server-pool";
import {
  UpstreamError,
  type EngineOptions,
  type EngineStatus,
  type ReplyPacket,
  type StartRequest,
  type UpstreamEngine,
  type UpstreamSession,
} from "./types";

export interface EngineDeps {
  connectorFor?: (security: TransportSecurity) => Connector;
  clock?: Clock;
  random?: Random;
  logger?: Logger;
}

const PACKET_TYPES: readonly number[] = [PacketType.Authentication, PacketType.Authorization, PacketType.Accounting];

const KIND_FOR: Record<ExchangeError["kind"], UpstreamError["kind"]> = {
  connect: "unavailable",
  lost: "unavailable",
  busy: "unavailable",
  timeout: "timeout",
  deadline: "timeout",
  protocol: "protocol",
  cancelled: "cancelled",
};

function toUpstreamError(error: unknown, server: string, prefix = ""): UpstreamError {
  if (error instanceof UpstreamError) return error;
  const failure = error instanceof ExchangeError ? error : new ExchangeError(String(error), "protocol", false);
  return new UpstreamError(prefix + failure.message, server, failure.kind !== "cancelled", KIND_FOR[failure.kind]);
}

/** A server tried before, and why it did not answer. */
interface Attempt {
  pool: ServerPool;
  error: UpstreamError;
}

class Session implements UpstreamSession {
  readonly #pool: ServerPool;
  readonly #connection: Connection;
  readonly #slot: SessionSlot;
  readonly reply: ReplyPacket;

  constructor(pool: ServerPool, connection: Connection, slot: SessionSlot, reply: ReplyPacket) {
    this.#pool = pool;
    this.#connection = connection;
    this.#slot = slot;
    this.reply = reply;
  }

  get server(): string {
    return this.#pool.server.name;
  }

  get sharedSecret() {
    return this.#pool.server.sharedSecret;
  }

  get overTls(): boolean {
    return this.#connection.overTls;
  }

  continue(body: Uint8Array, deadline: number, cancellation?: Cancellation): Promise<ReplyPacket> {
    return this.#connection.send(this.#slot, body, deadline, cancellation).catch((error: unknown) => {
      this.#connection.endSession(this.#slot);
      throw toUpstreamError(error, this.server);
    });
  }

  end(): void {
    this.#connection.abort(this.#slot);
  }
}

class Engine implements UpstreamEngine {
  #options: EngineOptions;
  #pools: ServerPool[];
  #state: FailoverState = initialFailoverState;
  #probeTimer: unknown;
  #closed = false;
  readonly #stateListeners = new Set<(status: EngineStatus) => void>();
  readonly #connectorFor: (security: TransportSecurity) => Connector;
  readonly #clock: Clock;
  readonly #random: Random;
  readonly #log: Logger;

  constructor(options: EngineOptions, deps: EngineDeps & { connectorFor: (security: TransportSecurity) => Connector }) {
    this.#connectorFor = deps.connectorFor;
    this.#clock = deps.clock ?? systemClock;
    this.#random = deps.random ?? systemRandom;
    this.#log = deps.logger ?? logger("upstream");
    this.#options = options;
    this.#pools = this.#buildPools(options);
  }

  start(request: StartRequest): Promise<UpstreamSession> {
    if (this.#closed) return Promise.reject(new UpstreamError("the upstream engine is shut down", "", false, "cancelled"));
    const pools = this.#pools;
    if (pools.length === 0) return Promise.reject(new UpstreamError("no upstream server is configured", "", false, "unavailable"));
    if (!PACKET_TYPES.includes(request.type)) {
      return Promise.reject(new UpstreamError(`unknown TACACS+ packet type ${request.type}`, "", false, "protocol"));
    }
    return this.#tryFrom(pools, startIndex(this.#state), request, undefined);
  }

  startOn(server: string, request: StartRequest): Promise<UpstreamSession> {
    if (this.#closed) return Promise.reject(new UpstreamError("the upstream engine is shut down", server, false, "cancelled"));
    const pool = this.#pools.find((candidate) => candidate.server.name === server);
    if (!pool) return Promise.reject(new UpstreamError(`no upstream server is named ${server}`, server, true, "unavailable"));
    // A one-server list: no failover, and failover events for it are ignored (it is not #pools).
    return this.#tryFrom([pool], 0, request, undefined);
  }

  /*
   * The failover loop as a chain of promises, not async functions: on the common path (a shared
   * connection takes the session at once) a request costs the send's promise and one `then`.
   * None of these methods throws; failures come back as rejected promises.
   */

  /** Tries pools[index], then each one after it in order. */
  #tryFrom(pools: ServerPool[], index: number, request: StartRequest, last: Attempt | undefined): Promise<UpstreamSession> {
    const pool = pools[index];
    if (!pool) {
      const server = last?.pool.server.name ?? "";
      return Promise.reject(new UpstreamError(`no upstream server could answer; last error: ${last?.error.message ?? "none tried"}`, server, true, "exhausted"));
    }
    const now = this.#clock.now();
    if (now >= request.deadline) {
      const server = last?.pool.server.name ?? pool.server.name;
      return Promise.reject(
        new UpstreamError(`deadline passed${last ? `; last error: ${last.error.message}` : ` before trying ${server}`}`, server, true, "timeout"),
      );
    }
    return this.#tryOn(pools, index, request, false, now);
  }

  /** One server; `resent` after a lost connection was replaced once. `now` is the clock just read (one read per request). */
  #tryOn(pools: ServerPool[], index: number, request: StartRequest, resent: boolean, now: number): Promise<UpstreamSession> {
    let opened;
    try {
      opened = pools[index]!.openSession(request.type as PacketType, request.version, request.deadline, now);
    } catch (error) {
      return this.#failed(pools, index, request, error);
    }
    if (opened instanceof Promise) {
      return opened.then(
        (session) => this.#sendOn(pools, index, request, resent, session),
        (error: unknown) => this.#failed(pools, index, request, error),
      );
    }
    return this.#sendOn(pools, index, request, resent, opened, now);
  }

  /** `now`: the clock when the session opened at once; undefined after waiting for a connection. */
  #sendOn(pools: ServerPool[], index: number, request: StartRequest, resent: boolean, { connection, slot }: OpenedSession, now?: number): Promise<UpstreamSession> {
    const pool = pools[index]!;
    const sent = performance.now();
    return connection.send(slot, request.body, request.deadline, request.cancellation, now).then(
      (reply) => {
        // start() admitted only the three packet types.
        const latency = pool.replyLatency[requestTypeOf(request.type)!];
        latency.observe((performance.now() - sent) / 1000);
        return this.#answered(pools, index, request, new Session(pool, connection, slot, reply));
      },
      (error: unknown) => {
        connection.endSession(slot);
        const lost = error instanceof ExchangeError && error.kind === "lost";
        if (lost && !resent && (!error.delivered || request.resendable)) {
          this.#log.debug(`${pool.server.name}: connection lost before the reply; sending again on a fresh connection`);
          return this.#tryOn(pools, index, request, true, this.#clock.now());
        }
        return this.#failed(pools, index, request, error);
      },
    );
  }

  /** A reply: the session for the caller, unless it is ERROR and another server remains. */
  #answered(pools: ServerPool[], index: number, request: StartRequest, session: Session): UpstreamSession | Promise<UpstreamSession> {
    const pool = pools[index]!;
    if (isErrorStatus(request.type as PacketType, replyStatus(request.type as PacketType, session.reply.body)) && index + 1 < pools.length) {
      session.end();
      this.#log.warn(`${pool.server.name} replied ERROR; trying ${pools[index + 1]!.server.name}`);
      this.#onEvent({ type: "server-failed", server: index }, pools);
      return this.#tryFrom(pools, index + 1, request, { pool, error: new UpstreamError(`${pool.server.name} replied ERROR`, pool.server.name, true, "unavailable") });
    }
    this.#onEvent({ type: "server-answered", server: index }, pools);
    return session;
  }

  /** A failure on pools[index]: the caller's error, or the next server's attempt. */
  #failed(pools: ServerPool[], index: number, request: StartRequest, error: unknown): Promise<UpstreamSession> {
    const pool = pools[index]!;
    const failure = error instanceof ExchangeError ? error : undefined;
    if (failure?.isServerFailure) this.#onEvent({ type: "server-failed", server: index }, pools);
    if (!failure || failure.kind === "cancelled" || failure.kind === "busy" || failure.kind === "deadline") {
      return Promise.reject(toUpstreamError(error, pool.server.name));
    }
    if (failure.delivered && !request.resendable) {
      return Promise.reject(toUpstreamError(failure, pool.server.name, "not re-sent, the request may have reached the server: "));
    }
    if (this.#closed) return Promise.reject(new UpstreamError("the upstream engine is shut down", pool.server.name, false, "cancelled"));
    return this.#tryFrom(pools, index + 1, request, { pool, error: toUpstreamError(failure, pool.server.name) });
  }

  status(): EngineStatus {
    const state = this.#state;
    return {
      state: state.name,
      activeServer: state.name === "FailedOver" ? state.server : 0,
      servers: this.#pools.map((pool) => pool.status()),
    };
  }

  onStateChange(listener: (status: EngineStatus) => void): () => void {
    this.#stateListeners.add(listener);
    return () => void this.#stateListeners.delete(listener);
  }

  async warmUp(): Promise<void> {
    const pools = this.#pools;
    for (const [index, pool] of pools.entries()) {
      if (this.#closed || pools !== this.#pools) return;
      try {
        await pool.warm(this.#clock.now() + this.#options.connectTimeoutMs);
        this.#log.info(`warm-up: connected to ${pool.server.name}`);
        this.#onEvent({ type: "server-answered", server: index }, pools);
        return;
      } catch {
        this.#onEvent({ type: "server-failed", server: index }, pools);
      }
    }
    if (pools.length > 0) this.#log.warn("warm-up: no upstream server is reachable; requests will connect on demand");
  }

  reconfigure(options: EngineOptions): void {
    if (this.#closed) return;
    const old = this.#pools;
    const pools = this.#buildPools(options); // may throw (bad key material): nothing has changed yet
    this.#options = options;
    this.#pools = pools;
    for (const pool of old) pool.drain();
    this.#setState(initialFailoverState);
    this.#log.info(`reconfigured: ${options.servers.length} upstream server(s): ${options.servers.map((s) => s.name).join(", ")}`);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#cancelProbe();
    for (const pool of this.#pools) pool.close();
  }

  #buildPools(options: EngineOptions): ServerPool[] {
    return options.servers.map(
      (server) =>
        new ServerPool(server, {
          connector: this.#connectorFor(server.security),
          clock: this.#clock,
          random: this.#random,
          log: this.#log,
          connectTimeoutMs: options.connectTimeoutMs,
          maxSessionsInFlight: options.maxSessionsInFlight,
          maxBodyBytes: options.maxBodyBytes,
        }),
    );
  }

  /** Applies a failover event, unless it concerns a server list replaced meanwhile. */
  #onEvent(event: FailoverEvent, pools: ServerPool[]): void {
    if (pools !== this.#pools || this.#closed) return;
    this.#setState(transition(this.#state, event, pools.length));
  }

  #setState(next: FailoverState): void {
    const before = this.#state;
    this.#state = next;
    if (next.name === "FailedOver") this.#scheduleProbe();
    else this.#cancelProbe();
    if (before.name === next.name && startIndex(before) === startIndex(next)) return;
    const name = (index: number): string => this.#pools[index]?.server.name ?? `server ${index}`;
    // One warning per state change, never one per request: an outage does not flood the journal.
    this.#log.warn(`failover: ${describeFailoverState(before, name)} → ${describeFailoverState(next, name)}`);
    if (this.#stateListeners.size > 0) {
      const status = this.status();
      for (const listener of this.#stateListeners) listener(status);
    }
  }

  #scheduleProbe(): void {
    if (this.#probeTimer !== undefined || this.#closed) return;
    // ±10% jitter so a fleet of agents does not probe in lockstep.
    const delay = Math.round(this.#options.probeIntervalMs * (0.9 + 0.2 * this.#random.fraction()));
    this.#probeTimer = this.#clock.setTimer(() => {
      this.#probeTimer = undefined;
      void this.#probe();
    }, delay);
  }

  #cancelProbe(): void {
    if (this.#probeTimer !== undefined) this.#clock.clearTimer(this.#probeTimer);
    this.#probeTimer = undefined;
  }

  async #probe(): Promise<void> {
    const pools = this.#pools;
    const preferred = pools[0];
    if (!preferred || this.#state.name !== "FailedOver") return;
    try {
      await preferred.warm(this.#clock.now() + this.#options.connectTimeoutMs);
      this.#log.info(`probe: preferred server ${preferred.server.name} is reachable again`);
      this.#onEvent({ type: "probe-succeeded" }, pools);
    } catch (error) {
      this.#log.debug(`probe: preferred server ${preferred.server.name} still unreachable: ${(error as Error).message}`);
      if (pools === this.#pools && this.#state.name === "FailedOver") this.#scheduleProbe();
    }
  }
}

/**
 * Creates the engine. Connectors come from the transport layer unless tests inject their own;
 * connectorFor may throw for bad key material (transport's PskMaterialError), and so may this.
 */
export function createEngine(options: EngineOptions, deps: EngineDeps = {}): UpstreamEngine {
  return new Engine(options, { ...deps, connectorFor: deps.connectorFor ?? connectorFor });
}
