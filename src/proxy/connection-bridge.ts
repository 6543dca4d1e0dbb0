/**
 * One downstream connection bridged onto one upstream session. Frames the client's bytes,
 * de-obfuscates with the downstream key, drives `transition`, and performs its effects:
 * engine calls, header rewrites (downstream session id and seq_no, never SINGLE_CONNECT) and
 * closing. Socket-agnostic: the listener hands in a `DownstreamPeer`.
 */
import { Cancellation } from "../common/cancellation";
import { tracing, type Logger } from "../common/log";
import { requestTypeOf, secondsSince, statusOutcome, type EntryPointMetrics, type Outcome, type RequestCell, type RequestType } from "../common/request-metrics";
import {
  AcctStatus,
  CodecError,
  encodeAcctReply,
  encodePacket,
  errorReplyBody,
  Flags,
  FrameReader,
  PacketType,
  replyStatus,
  type Packet,
} from "../protocol";
import type { Clock } from "../upstream/clock";
import type { ReplyPacket, UpstreamEngine, UpstreamSession } from "../upstream/types";
import {
  initialState,
  packetViolation,
  transition,
  type ConnectionEvent,
  type ConnectionState,
  type DownstreamSession,
  type Effect,
} from "./connection-state";
import { candidateKeys, decodeWithKeys, DownstreamKeyError, type DownstreamKey, type KeySource } from "./downstream-keys";
import { errorMessage } from "../common/error-message";
import { QUEUED_MESSAGE, type AccountingDelivery, type LiveOutcome } from "../accounting";
import { UpstreamError } from "../upstream/types";

export interface DownstreamPeer {
  /** Queues bytes for the client (the listener handles back-pressure). */
  write(bytes: Uint8Array): void;
  /** Closes after the queued bytes are flushed; idempotent. */
  close(): void;
  /** For logs: "127.0.0.1:40312" or "unix". */
  readonly remote: string;
}

export interface BridgeOptions {
  engine: UpstreamEngine;
  keys: KeySource;
  maxBodyBytes: number;
  /** Bound on waiting for each client packet (idle and slow senders) and on each upstream exchange. */
  idleTimeoutMs: number;
  /** Refusals of the listener; the bridge counts its first-packet timeouts there. */
  counters?: ProxyCounters;
  logger: Logger;
  clock: Clock;
  /** Accounting spool and journal: a record no server took is queued and answered SUCCESS. */
  accounting?: AccountingDelivery;
  /** Requests by type and outcome, counted in place (metrics). */
  metrics?: EntryPointMetrics;
}

/** Ends that are not a client's ordinary goodbye: one info line (-vv) each. */
const ABNORMAL_ENDS: ReadonlySet<string> = new Set(["idle-timeout", "garbage", "protocol-violation", "upstream-failed", "internal-error"]);

/** The ERROR reply's server_msg when no upstream answered. */
/**
 * Zeroes a client's plaintext body once the upstream answered it: a PAP START or an ASCII CONTINUE
 * carries the password, and the engine never re-sends an answered packet.
 */
function wipe(body: Uint8Array): void {
  body.fill(0);
}

export const NO_UPSTREAM_MESSAGE = "tacacsrs-agentd: no upstream TACACS+ server answered";

/**
 * The reply header flags sent downstream: the upstream's flags without SINGLE_CONNECT (no
 * downstream multiplexing, RFC 8907 §4.3) and with UNENCRYPTED exactly when the client's key is none.
 */
export function downstreamFlags(upstreamFlags: number, key: DownstreamKey): number {
  const kept = upstreamFlags & ~(Flags.SingleConnect | Flags.Unencrypted);
  return key === undefined ? kept | Flags.Unencrypted : kept;
}

/** An accounting reply the agent makes: a record queued in its spool (RFC 8907 §7.2 SUCCESS), or a fan-out collector's body. */
function accountingReplyPacket(version: number, body = encodeAcctReply({ status: AcctStatus.Success, serverMsg: QUEUED_MESSAGE, data: "" })): ReplyPacket {
  return { version, type: PacketType.Accounting, seqNo: 2, flags: 0, sessionId: 0, body };
}

/**
 * A new connection must deliver its first whole packet within this long (or the idle timeout, if
 * shorter): a client that opens a slot and then sends nothing or half a header loses it soon.
 */
export const FIRST_PACKET_TIMEOUT_MS = 5_000;

/** What the proxy listener refused or cut, one plain number per reason. */
export interface ProxyCounters {
  /** New connections closed at --max-proxy-connections (every open one had been answered). */
  connectionsRefused: number;
  /** Connections that had not completed a request, closed to admit a new one at the limit. */
  connectionsEvicted: number;
  /** Connections without a whole first packet within FIRST_PACKET_TIMEOUT_MS. */
  firstPacketTimeouts: number;
}

export class ConnectionBridge {
  #state: ConnectionState = initialState;
  readonly #reader: FrameReader;
  #key: DownstreamKey;
  #session: UpstreamSession | undefined;
  #idleTimer: unknown;
  /** A reply went out: the connection has done useful work (the idle ones go first at the limit). */
  #answered = false;
  readonly #cancellation = new Cancellation();
  readonly #done: Promise<void>;
  #resolveDone!: () => void;
  /** The request in flight, counted in `options.metrics` until its final reply (or the close). */
  #request: { cell: RequestCell; type: RequestType; started: number } | undefined;

  constructor(
    readonly peer: DownstreamPeer,
    readonly options: BridgeOptions,
  ) {
    this.#reader = new FrameReader(options.maxBodyBytes);
    this.#done = new Promise((resolve) => (this.#resolveDone = resolve));
    this.#armIdleTimer(Math.min(options.idleTimeoutMs, FIRST_PACKET_TIMEOUT_MS));
  }

  /** Whether the connection got a reply yet and is not waiting for its first request. */
  get productive(): boolean {
    return this.#answered || this.#state.name !== "AwaitingStart";
  }

  get state(): ConnectionState {
    return this.#state;
  }

  /** Resolves once the connection reached Closed. */
  get done(): Promise<void> {
    return this.#done;
  }

  onData(chunk: Uint8Array): void {
    this.#guard(() => {
      if (!this.#open()) return;
      // A frame can close the connection; frames after it are dropped.
      for (const frame of this.#reader.push(chunk)) if (this.#open()) this.#onFrame(frame);
    }, true);
  }

  /**
   * Runs one entry point (socket data, engine callback, timer). On client input, codec and key
   * errors are garbage: they close this connection with a debug line. Anything else is a defect,
   * logged as an error, and still only closes this connection: nothing escapes into the event loop.
   */
  #guard(step: () => void, clientInput = false): void {
    try {
      step();
    } catch (error) {
      if (clientInput && (error instanceof CodecError || error instanceof DownstreamKeyError)) {
        this.options.logger.debug(`proxy ${this.peer.remote}: closing on unreadable input: ${error.message}`);
        this.#dispatch({ kind: "garbage" });
      } else {
        this.options.logger.error(`proxy ${this.peer.remote}: internal error, closing the connection: ${errorMessage(error)}`);
        if (this.#open()) this.#dispatch({ kind: "internal-error" });
      }
    }
  }

  #open(): boolean {
    return this.#state.name !== "Closed";
  }

  /** The client half-closed (FIN): a request in flight is still answered. */
  onPeerEnded(): void {
    this.#dispatch({ kind: "peer-ended" });
  }

  onPeerClosed(): void {
    this.#dispatch({ kind: "peer-closed" });
  }

  /** Ends the connection now (daemon shutdown after the grace period). */
  shutdown(): void {
    this.#dispatch({ kind: "shutdown" });
  }

  #onFrame(frame: Uint8Array): void {
    const first = this.#state.name === "AwaitingStart";
    const decoded = decodeWithKeys(frame, first ? candidateKeys(this.options.keys) : [this.#key], first, this.options.maxBodyBytes);
    const { header, body } = decoded.packet;
    const event: ConnectionEvent = { kind: "packet", type: header.type, version: header.version, seqNo: header.seqNo, sessionId: header.sessionId };
    const violation = packetViolation(this.#state, event);
    if (violation) this.options.logger.debug(`proxy ${this.peer.remote}: closing: ${violation}`);
    if (first) this.#key = decoded.key;
    this.#dispatch(event, body);
  }

  #dispatch(event: ConnectionEvent, body?: Uint8Array, reply?: ReplyPacket): void {
    const previous = this.#state;
    const { state, effect } = transition(previous, event);
    this.#state = state;
    try {
      this.#perform(effect, previous, body, reply);
    } finally {
      // Even if the effect failed, a connection that reached Closed releases everything.
      if (state.name === "Closed" && previous.name !== "Closed") this.#cleanUp(state.reason);
    }
  }

  #perform(effect: Effect, previous: ConnectionState, body: Uint8Array | undefined, reply: ReplyPacket | undefined): void {
    const session = "session" in previous ? previous.session : undefined;
    switch (effect.kind) {
      case "start-upstream":
        this.#countStart(effect.session.type);
        return this.#startUpstream(effect.session, body ?? new Uint8Array());
      case "continue-upstream":
        return this.#continueUpstream(body ?? new Uint8Array());
      case "send-reply":
        if (session && reply) this.#send(session, effect.seqNo, reply.version, reply.flags, reply.body);
        if (effect.close && this.#request && reply) this.#countEnd(statusOutcome(this.#request.type, replyStatus(reply.type, reply.body)));
        this.#answered = true;
        if (!effect.close) this.#armIdleTimer();
        return;
      case "send-error":
        if (session) this.#send(session, effect.seqNo, session.version, 0, errorReplyBody(session.type, NO_UPSTREAM_MESSAGE));
        this.#countEnd("unavailable");
        return;
      case "close":
      case "none":
        return;
    }
  }

  #deadline(): number {
    return this.options.clock.now() + this.options.idleTimeoutMs;
  }

  #startUpstream(downstream: DownstreamSession, body: Uint8Array): void {
    this.#clearIdleTimer();
    const request = {
      type: downstream.type,
      version: downstream.version,
      body,
      deadline: this.#deadline(),
      cancellation: this.#cancellation,
      // Accounting is never re-sent elsewhere behind the client's back (at most once upstream).
      resendable: downstream.type !== PacketType.Accounting,
    };
    const { accounting } = this.options;
    if (accounting && downstream.type === PacketType.Accounting) return this.#startAccounting(accounting, downstream, request);
    this.options.engine.start(request).then(
      (session) => {
        wipe(body);
        accounting?.serverAnswered();
        if (!this.#open()) return session.end();
        this.#session = session;
        this.#guard(() => this.#onReply(session.reply));
      },
      (error: unknown) => this.#guard(() => this.#onUpstreamFailure(error)),
    );
  }

  /**
   * An accounting REQUEST with the spool or journal on: the server's reply as usual, or, when no
   * server took the record and the spool did, a SUCCESS whose server_msg says it was queued.
   */
  #startAccounting(accounting: AccountingDelivery, downstream: DownstreamSession, request: Parameters<UpstreamEngine["start"]>[0]): void {
    const settle = (outcome: LiveOutcome, answer: () => void, session?: UpstreamSession) =>
      accounting.settle(downstream.version, request.body, outcome).then(
        (verdict) =>
          this.#guard(() => {
            if (verdict.kind !== "pass") session?.end();
            if (verdict.kind === "queued") return this.#onReply(accountingReplyPacket(downstream.version));
            if (verdict.kind === "refused") return this.#onUpstreamFailure(new Error(verdict.message));
            answer();
          }),
        (error: unknown) => this.#guard(() => this.#onUpstreamFailure(error)),
      );
    if (accounting.fanOutEnabled) {
      accounting.fanOut(downstream.version, request.body, request.deadline).then(
        (result) =>
          this.#guard(() => {
            if (result.kind === "answered") return this.#onReply(accountingReplyPacket(downstream.version, result.replyBody));
            if (result.kind === "queued") return this.#onReply(accountingReplyPacket(downstream.version));
            this.#onUpstreamFailure(result.kind === "failed" ? result.error : new Error(result.message));
          }),
        (error: unknown) => this.#guard(() => this.#onUpstreamFailure(error)),
      );
      return;
    }
    this.options.engine.start(request).then(
      (session) => {
        void settle({ kind: "answered", server: session.server, replyBody: session.reply.body }, () => {
          if (!this.#open()) return session.end();
          this.#session = session;
          this.#onReply(session.reply);
        }, session);
      },
      (error: unknown) => {
        const retriable = error instanceof UpstreamError && error.retriable;
        void settle({ kind: "failed", retriable }, () => this.#onUpstreamFailure(error));
      },
    );
  }

  #continueUpstream(body: Uint8Array): void {
    this.#clearIdleTimer();
    const session = this.#session;
    if (!session) return this.#onUpstreamFailure(new Error("no upstream session"));
    session.continue(body, this.#deadline(), this.#cancellation).then(
      (reply) => {
        wipe(body);
        this.#guard(() => this.#onReply(reply));
      },
      (error: unknown) => this.#guard(() => this.#onUpstreamFailure(error)),
    );
  }

  #onReply(reply: ReplyPacket): void {
    if (!this.#open()) return;
    let status: number;
    try {
      status = replyStatus(reply.type, reply.body);
    } catch (error) {
      // An unreadable upstream reply is the upstream's failure, answered with ERROR downstream.
      return this.#onUpstreamFailure(error);
    }
    this.#dispatch({ kind: "reply", status }, undefined, reply);
  }

  #onUpstreamFailure(error: unknown): void {
    if (!this.#open()) return;
    const reason = errorMessage(error);
    this.options.logger.info(`proxy ${this.peer.remote}: no upstream reply, sending ERROR: ${reason}`);
    this.#dispatch({ kind: "upstream-failed" });
  }

  /** Writes a reply with the downstream session id and seq_no, obfuscated with the client's key. */
  #send(session: DownstreamSession, seqNo: number, version: number, upstreamFlags: number, body: Uint8Array): void {
    const header = { version, type: session.type, seqNo, flags: downstreamFlags(upstreamFlags, this.#key), sessionId: session.sessionId };
    this.peer.write(encodePacket(header, body, this.#key?.reveal()));
  }

  #armIdleTimer(timeoutMs = this.options.idleTimeoutMs): void {
    this.#clearIdleTimer();
    this.#idleTimer = this.options.clock.setTimer(
      () =>
        this.#guard(() => {
          this.options.logger.debug(`proxy ${this.peer.remote}: closing idle or slow connection`);
          if (!this.productive && this.options.counters) this.options.counters.firstPacketTimeouts++;
          this.#dispatch({ kind: "idle-timeout" });
        }),
      timeoutMs,
    );
  }

  #clearIdleTimer(): void {
    if (this.#idleTimer !== undefined) this.options.clock.clearTimer(this.#idleTimer);
    this.#idleTimer = undefined;
  }

  #countStart(packetType: number): void {
    const type = requestTypeOf(packetType);
    const cell = type && this.options.metrics?.[type];
    if (!type || !cell) return;
    cell.inFlight += 1;
    this.#request = { cell, type, started: performance.now() };
  }

  #countEnd(outcome: Outcome): void {
    const request = this.#request;
    this.#request = undefined;
    request?.cell.end(outcome, secondsSince(request.started));
  }

  #cleanUp(reason: string): void {
    // A request without its final reply: the client or the idle timer ended it.
    this.#countEnd(reason === "idle-timeout" ? "timeout" : "error");
    if (ABNORMAL_ENDS.has(reason)) this.options.logger.info(`proxy ${this.peer.remote}: connection ended abnormally (${reason})`);
    this.#clearIdleTimer();
    this.#cancellation.cancel(new Error(`proxy connection closed (${reason})`));
    this.#session?.end();
    this.peer.close();
    if (tracing(this.options.logger)) this.options.logger.trace(`proxy ${this.peer.remote}: closed (${reason})`);
    this.#resolveDone();
  }
}
