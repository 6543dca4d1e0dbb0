/**
 * One upstream connection: single-connect negotiation (RFC 8907 §4.3), sessions multiplexed by
 * session id, seq_no checks, obfuscation or the unencrypted flag (§4.5, RFC 9887 §4), reply
 * timeouts through one DeadlineSweeper per connection, and RFC 9105 message counters.
 */
import { AuthenContinueFlags, decodePacket, encodeAuthenContinue, encodePacket, Flags, FrameReader, PacketType, replyStatus } from "../protocol";
import type { CancelListener, Cancellation } from "../common/cancellation";
import { tracing, type Logger } from "../common/log";
import type { ByteStream, Connector } from "../transport/types";
import type { Clock, Random } from "./clock";
import { transition, type ConnectionEvent, type ConnectionState } from "./connection-state";
import type { Counters } from "./counters";
import { DeadlineSweeper } from "./deadlines";
import { ExchangeError } from "./errors";
import { endsSession, isErrorStatus, validateReplyBody } from "./replies";
import type { ReplyPacket, UpstreamServer } from "./types";
import { errorMessage } from "../common/error-message";

/** What a connection needs from the server it belongs to. */
export interface ServerContext {
  readonly server: UpstreamServer;
  readonly counters: Counters;
  readonly clock: Clock;
  readonly random: Random;
  readonly log: Logger;
  readonly maxBodyBytes: number | undefined;
  /** The connection changed state (negotiated, closed). */
  onStateChange(connection: Connection): void;
  /** A session on the connection ended, however it ended. */
  onSessionEnded(connection: Connection): void;
}

/** One TACACS+ session on a connection: its id, and the exchange awaiting a reply, if any. */
export class SessionSlot {
  exchange: Exchange | undefined;
  ended = false;
  /** seq_no of the last packet sent or received in this session. */
  lastSeq = 0;

  constructor(
    readonly id: number,
    readonly type: PacketType,
    readonly version: number,
  ) {}
}

interface Exchange {
  readonly slot: SessionSlot;
  readonly expectSeq: number;
  readonly sentAt: number;
  readonly deadline: number;
  /** The caller's deadline came before the server's timeout: expiry says nothing about the server. */
  readonly callerDeadline: boolean;
  readonly resolve: (reply: ReplyPacket) => void;
  readonly reject: (error: ExchangeError) => void;
  readonly cancellation: Cancellation | undefined;
  onCancel: CancelListener | undefined;
  /**
   * The caller gave up (cancelled, or its deadline passed) while the server still works on the
   * session: the exchange only waits for the reply or the server's timeout, then ends the session.
   */
  orphan: boolean;
  /** Set by the DeadlineSweeper (-1 before): declared so every exchange has the same shape. */
  sweepIndex: number;
}

/**
 * A server that closes a single-connect connection this soon after a reply closes after each
 * session (idle timeouts are far longer): sessions then get a connection each, so no request
 * races the server's FIN on a connection about to close.
 */
export const CLOSE_AFTER_SESSION_MS = 100;

export class Connection {
  #state: ConnectionState = { name: "Connecting" };
  #stream: ByteStream | undefined;
  readonly #ctx: ServerContext;
  readonly #reader: FrameReader;
  readonly #sessions = new Map<number, SessionSlot>();
  readonly #sweeper: DeadlineSweeper<Exchange>;
  /**
   * The obfuscation key; undefined over TLS (RFC 9887 §4) or without a shared secret. A copy, zeroed
   * on close: a reload may wipe the configured Secret while this connection's sessions still finish.
   */
  readonly #key: Uint8Array | undefined;
  readonly #offerSingleConnect: boolean;
  readonly overTls: boolean;
  #lastReceivedAt = Number.NEGATIVE_INFINITY;
  #lastReplyAt = Number.NEGATIVE_INFINITY;
  /** The server closed this multiplexed connection right after a reply (see CLOSE_AFTER_SESSION_MS). */
  closedAfterSession = false;
  #waiters: (() => void)[] = [];

  constructor(ctx: ServerContext, offerSingleConnect: boolean) {
    this.#ctx = ctx;
    this.#offerSingleConnect = offerSingleConnect;
    this.overTls = ctx.server.security.kind !== "tcp";
    const secret = ctx.server.sharedSecret;
    this.#key = this.overTls || !secret || secret.length === 0 ? undefined : secret.reveal().slice();
    this.#reader = new FrameReader(ctx.maxBodyBytes);
    this.#sweeper = new DeadlineSweeper(ctx.clock, (exchange) => this.#expire(exchange));
  }

  get state(): ConnectionState {
    return this.#state;
  }

  get sessionsInFlight(): number {
    return this.#sessions.size;
  }

  /** Opens the stream; rejects with the transport's error (the connection is then Closed). */
  async open(connector: Connector, timeoutMs: number): Promise<void> {
    const { host, port, sourceAddress } = this.#ctx.server;
    const target = sourceAddress === undefined ? { host, port } : { host, port, sourceAddress };
    let stream: ByteStream;
    try {
      stream = await connector.connect(target, { onData: (chunk) => this.#onData(chunk), onClose: (error) => this.#onClose(error) }, timeoutMs);
    } catch (error) {
      this.#move({ type: "closed", reason: "connect failed" });
      throw error;
    }
    this.#stream = stream;
    if (this.#state.name === "Closed") {
      stream.close();
      // Closed by the engine (close, drain) or by the peer before it was handed over.
      throw new ExchangeError(`connection to ${this.#ctx.server.name} closed while connecting`, "lost", false);
    }
    this.#move({ type: "connected" });
  }

  /** Resolves at the next state change (used to wait for the single-connect answer). */
  changed(): Promise<void> {
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  /** Starts a session with a fresh id unique on this connection. Only in Ready or Multiplexing. */
  startSession(type: PacketType, version: number): SessionSlot {
    this.#move({ type: "session-started", offerSingleConnect: this.#offerSingleConnect });
    let id = this.#ctx.random.sessionId();
    while (id === 0 || this.#sessions.has(id)) id = this.#ctx.random.sessionId();
    const slot = new SessionSlot(id, type, version);
    this.#sessions.set(id, slot);
    this.#ctx.counters.sessions++;
    return slot;
  }

  /**
   * Sends the session's next client packet (seq_no 1, 3, …) and resolves with the server's reply.
   * `now` saves a clock read when the caller has just made one.
   */
  send(slot: SessionSlot, body: Uint8Array, deadline: number, cancellation?: Cancellation, now = this.#ctx.clock.now()): Promise<ReplyPacket> {
    const name = this.#ctx.server.name;
    if (slot.ended) return Promise.reject(new ExchangeError(`the session with ${name} has ended`, "protocol", false));
    if (this.#state.name === "Closed" || !this.#stream) {
      return Promise.reject(new ExchangeError(`connection to ${name} is closed`, "lost", false));
    }
    if (slot.exchange) return Promise.reject(new ExchangeError(`a reply from ${name} is still awaited in this session`, "protocol", false));
    if (cancellation?.cancelled) return Promise.reject(new ExchangeError("request cancelled", "cancelled", false));
    const seqNo = slot.lastSeq + 1;
    let packet: Uint8Array;
    try {
      packet = this.#encode(slot, seqNo, body);
    } catch (error) {
      return Promise.reject(new ExchangeError(`cannot encode the request: ${(error as Error).message}`, "protocol", false));
    }
    const serverDeadline = now + this.#ctx.server.timeoutMs;
    const stream = this.#stream;
    return new Promise<ReplyPacket>((resolve, reject) => {
      const exchange: Exchange = {
        slot,
        expectSeq: seqNo + 1,
        sentAt: now,
        deadline: Math.min(deadline, serverDeadline),
        callerDeadline: deadline < serverDeadline,
        resolve,
        reject,
        cancellation,
        onCancel: undefined,
        orphan: false,
        sweepIndex: -1,
      };
      slot.exchange = exchange;
      this.#sweeper.add(exchange);
      if (cancellation) {
        exchange.onCancel = () => this.#abandon(exchange, new ExchangeError("request cancelled", "cancelled", true), true);
        cancellation.onCancel(exchange.onCancel);
      }
      stream.write(packet);
      slot.lastSeq = seqNo;
      this.#ctx.counters.messagesSent++;
      if (tracing(this.#ctx.log)) this.#ctx.log.trace(`${name}: sent type ${slot.type} seq ${seqNo} session ${slot.id} (${body.length} bytes)`);
    });
  }

  /**
   * Ends a session at the caller's request. An unfinished authentication on a shared connection is
   * aborted with CONTINUE + ABORT (RFC 8907 §5.3) so the server frees it; any answer is dropped.
   */
  abort(slot: SessionSlot): void {
    const waitingForClient = !slot.ended && !slot.exchange && slot.lastSeq % 2 === 0 && slot.lastSeq > 0 && slot.lastSeq < 254;
    if (waitingForClient && slot.type === PacketType.Authentication && this.#state.name === "Multiplexing" && this.#stream) {
      const body = encodeAuthenContinue({ flags: AuthenContinueFlags.Abort, userMsg: new Uint8Array(0), data: new Uint8Array(0) });
      this.#stream.write(this.#encode(slot, slot.lastSeq + 1, body));
      this.#ctx.counters.messagesSent++;
    }
    this.endSession(slot);
  }

  #encode(slot: SessionSlot, seqNo: number, body: Uint8Array): Uint8Array {
    // §4.3: the flag is only read on the first two packets; sending it throughout is harmless.
    const flags = (this.#offerSingleConnect ? Flags.SingleConnect : 0) | (this.#key ? 0 : Flags.Unencrypted);
    return encodePacket({ version: slot.version, type: slot.type, seqNo, flags, sessionId: slot.id }, body, this.#key);
  }

  /** Ends a session and frees its id; a per-session connection closes with its session. Idempotent. */
  endSession(slot: SessionSlot): void {
    if (slot.ended) return;
    // The server still works on a request the caller gave up: it ends with the reply or the timeout (#abandon).
    if (slot.exchange?.orphan) return;
    slot.ended = true;
    this.#sessions.delete(slot.id);
    const pending = slot.exchange;
    if (pending) this.#settle(pending).reject(new ExchangeError("session ended", "cancelled", true));
    this.#ctx.onSessionEnded(this);
    if (this.#sessions.size === 0 && (this.#state.name === "PerSession" || this.#state.name === "Negotiating")) {
      // §4.3: without single-connect the client closes after its session; an unanswered
      // negotiation leaves the connection unusable, since nothing else may be sent on it.
      this.close(this.#state.name === "PerSession" ? "session ended" : "single-connect negotiation abandoned", false);
    }
  }

  /**
   * Closes the connection: every session on it fails with `failure` (default: connection lost,
   * possibly delivered). `abort` counts an RFC 9105 connection abort instead of a close.
   */
  close(reason: string, abort: boolean, failure?: ExchangeError): void {
    if (this.#state.name === "Closed") return;
    this.#move({ type: "closed", reason });
    if (abort) this.#ctx.counters.connectionAborts++;
    else this.#ctx.counters.connectionCloses++;
    this.#sweeper.clear();
    this.#stream?.close();
    this.#key?.fill(0);
    const error = failure ?? new ExchangeError(`connection to ${this.#ctx.server.name} lost: ${reason}`, "lost", true);
    const slots = [...this.#sessions.values()];
    this.#sessions.clear();
    for (const slot of slots) {
      slot.ended = true;
      if (slot.exchange) this.#settle(slot.exchange).reject(error);
      this.#ctx.onSessionEnded(this);
    }
  }

  #move(event: ConnectionEvent): void {
    const before = this.#state;
    this.#state = transition(before, event);
    if (this.#state.name === before.name) return;
    this.#ctx.log.debug(`${this.#ctx.server.name}: connection ${before.name} → ${this.#state.name}${event.type === "closed" ? ` (${event.reason})` : ""}`);
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const wake of waiters) wake();
    this.#ctx.onStateChange(this);
  }

  #settle(exchange: Exchange): Exchange {
    exchange.slot.exchange = undefined;
    this.#sweeper.delete(exchange);
    if (exchange.onCancel) exchange.cancellation?.off(exchange.onCancel);
    return exchange;
  }

  /**
   * An exchange fails alone and its session ends; a late reply is dropped. When the caller gave
   * up (`callerGaveUp`) on a multiplexed connection, the server is still working on the session:
   * it keeps its id and its --max-sessions-in-flight slot until the reply or the server's timeout,
   * so cancelled calls cannot pile up unbounded work upstream (rapid reset through the API).
   */
  #abandon(exchange: Exchange, error: ExchangeError, callerGaveUp = false): void {
    const slot = exchange.slot;
    if (slot.exchange !== exchange) return;
    this.#settle(exchange).reject(error);
    if (!callerGaveUp || this.#state.name !== "Multiplexing") return this.endSession(slot);
    const end = () => this.abort(slot);
    const orphan: Exchange = { ...exchange, deadline: exchange.sentAt + this.#ctx.server.timeoutMs, callerDeadline: false, resolve: end, reject: end, cancellation: undefined, onCancel: undefined, orphan: true, sweepIndex: -1 };
    slot.exchange = orphan;
    this.#sweeper.add(orphan);
  }

  #expire(exchange: Exchange): void {
    if (exchange.slot.exchange !== exchange) return;
    if (exchange.orphan) return this.#abandon(exchange, new ExchangeError("no reply to an abandoned request", "timeout", true));
    const name = this.#ctx.server.name;
    const waited = exchange.deadline - exchange.sentAt;
    if (exchange.callerDeadline) {
      this.#abandon(exchange, new ExchangeError(`no reply from ${name} before the request's deadline (${waited} ms)`, "deadline", true), true);
      return;
    }
    this.#ctx.counters.connectionTimeouts++;
    this.#ctx.log.warn(`${name}: no reply within ${waited} ms`);
    const silent = this.#lastReceivedAt < exchange.sentAt;
    this.#abandon(exchange, new ExchangeError(`no reply from ${name} within ${waited} ms`, "timeout", true));
    // A multiplexed connection outlives one slow session, unless nothing at all came back since.
    if (silent && this.#state.name === "Multiplexing") this.close(`nothing received for ${waited} ms`, true);
  }

  #onData(chunk: Uint8Array): void {
    if (this.#isClosed()) return;
    this.#lastReceivedAt = this.#ctx.clock.now();
    let frames: Uint8Array[];
    try {
      frames = this.#reader.push(chunk);
    } catch (error) {
      this.#protocolFailure(error);
      return;
    }
    for (const frame of frames) {
      if (this.#isClosed()) return; // a frame before may have closed it
      this.#receive(frame);
    }
  }

  #isClosed(): boolean {
    return this.#state.name === "Closed";
  }

  #receive(frame: Uint8Array): void {
    const ctx = this.#ctx;
    // The flags byte (header offset 3) decides how the body may be read, so it is checked first.
    const unencrypted = ((frame[3] ?? 0) & Flags.Unencrypted) !== 0;
    if (this.overTls && !unencrypted) {
      this.#protocolFailure(new Error("reply without TAC_PLUS_UNENCRYPTED_FLAG over TLS (RFC 9887 §4)"));
      return;
    }
    if (this.#key && unencrypted) {
      this.#protocolFailure(new Error("unobfuscated reply although a shared secret is configured (RFC 8907 §4.5)"));
      return;
    }
    let header, body;
    try {
      ({ header, body } = decodePacket(frame, this.#key, ctx.maxBodyBytes));
    } catch (error) {
      this.#protocolFailure(error);
      return;
    }
    ctx.counters.messagesReceived++;
    if (tracing(ctx.log)) ctx.log.trace(`${ctx.server.name}: received type ${header.type} seq ${header.seqNo} session ${header.sessionId} flags 0x${header.flags.toString(16)} (${body.length} bytes)`);
    const slot = this.#sessions.get(header.sessionId);
    const exchange = slot?.exchange;
    if (!slot || !exchange) {
      ctx.log.debug(`${ctx.server.name}: dropped a reply for session ${header.sessionId}, which awaits none (late or unknown)`);
      return;
    }
    if (header.type !== slot.type || header.seqNo !== exchange.expectSeq) {
      const error = new ExchangeError(
        `${ctx.server.name} replied with type ${header.type} seq_no ${header.seqNo}, expected type ${slot.type} seq_no ${exchange.expectSeq}`,
        "protocol",
        true,
      );
      ctx.log.warn(error.message);
      this.#abandon(exchange, error);
      return;
    }
    let status: number;
    try {
      validateReplyBody(slot.type, body);
      status = replyStatus(slot.type, body);
    } catch (error) {
      this.#protocolFailure(error);
      return;
    }
    if (isErrorStatus(slot.type, status)) ctx.counters.errorsReceived++;
    if (this.#state.name === "Negotiating") this.#move({ type: "first-reply", singleConnect: (header.flags & Flags.SingleConnect) !== 0 });
    this.#settle(exchange);
    this.#lastReplyAt = this.#lastReceivedAt;
    slot.lastSeq = header.seqNo;
    const reply: ReplyPacket = { version: header.version, type: header.type, seqNo: header.seqNo, flags: header.flags, sessionId: header.sessionId, body };
    if (endsSession(slot.type, status)) this.endSession(slot);
    exchange.resolve(reply);
  }

  /** An undecodable or forbidden reply: the stream can no longer be trusted, so it is closed. */
  #protocolFailure(error: unknown): void {
    const name = this.#ctx.server.name;
    const detail = errorMessage(error);
    const message = `${name}: bad reply, closing the connection: ${detail}`;
    this.#ctx.log.warn(message);
    this.close(`bad reply: ${detail}`, true, new ExchangeError(message, "protocol", true));
  }

  #onClose(error?: Error): void {
    if (this.#state.name === "Closed") return;
    const pending = this.#sessions.size;
    const reason = error ? `connection lost: ${error.message}` : "closed by the server";
    if (pending > 0) this.#ctx.log.warn(`${this.#ctx.server.name}: ${reason} with ${pending} session(s) in flight`);
    else this.#ctx.log.debug(`${this.#ctx.server.name}: ${reason}`);
    this.closedAfterSession =
      !error && this.#state.name === "Multiplexing" && this.#ctx.clock.now() - this.#lastReplyAt <= CLOSE_AFTER_SESSION_MS;
    this.close(reason, error !== undefined);
  }
}
