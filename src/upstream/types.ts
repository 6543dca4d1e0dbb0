/**
 * The upstream engine's contract with the services above it (gRPC API, proxy).
 * A service hands over a plaintext TACACS+ body; the engine picks the server (ordered failover),
 * the connection (single-connect multiplexing or a connection per session), the session id and
 * sequence numbers, obfuscates or sets the unencrypted flag, and returns the plaintext reply.
 */
import type { Cancellation } from "../common/cancellation";
import type { Histogram } from "../common/histogram";
import type { RequestType } from "../common/request-metrics";
import type { Secret } from "../common/secret";
import type { HandshakeFailureReason } from "../transport/handshake-failure";
import type { TransportSecurity } from "../transport/types";

/** One configured upstream server, in preference order (index 0 is the preferred server). */
export interface UpstreamServer {
  /** Operator-facing name: the YANG `name`, or "host:port" from --server-addr. */
  name: string;
  host: string;
  port: number;
  sourceAddress?: string;
  /** RFC 8907 §4.5 obfuscation key; unused inside TLS (RFC 9887 §4). */
  sharedSecret?: Secret;
  security: TransportSecurity;
  /** Offer single-connect (RFC 8907 §4.3) on new connections. */
  singleConnection: boolean;
  /** Reply timeout per exchange (RFC 9105 `timeout`). */
  timeoutMs: number;
}

export interface EngineOptions {
  servers: readonly UpstreamServer[];
  connectTimeoutMs: number;
  probeIntervalMs: number;
  /** Bound on sessions in flight per server; beyond it requests fail with a retriable error. */
  maxSessionsInFlight: number;
  /** Largest reply body accepted (Limits.maxBodyBytes); the codec's default (65536) when absent. */
  maxBodyBytes?: number;
}

/** A reply packet from the server, body already de-obfuscated. */
export interface ReplyPacket {
  /** Header fields as received (seq_no is even, session id is the upstream one). */
  version: number;
  type: number;
  seqNo: number;
  flags: number;
  sessionId: number;
  body: Uint8Array;
}

export interface StartRequest {
  /** TAC_PLUS_AUTHEN (1), TAC_PLUS_AUTHOR (2) or TAC_PLUS_ACCT (3). */
  type: number;
  /** Full version byte, e.g. 0xc1 for PAP login (RFC 8907 §5.4.1). */
  version: number;
  /** The START / REQUEST body, plaintext. */
  body: Uint8Array;
  /** Absolute deadline (Date.now() scale) after which the caller has given up. */
  deadline: number;
  /** Cancelled when the caller gives up (left, shut down): the exchange in flight fails at once. */
  cancellation?: Cancellation;
  /**
   * false for accounting: once the request may have reached a server, it is never re-sent
   * elsewhere behind the caller's back; a failure then is a retriable error instead.
   */
  resendable: boolean;
}

export interface UpstreamSession {
  /** The server that answered, by name. */
  readonly server: string;
  /** That server's shared secret (the proxy uses it downstream when it has none of its own). */
  readonly sharedSecret: Secret | undefined;
  /** True when the reply came over TLS (packets travel unobfuscated, RFC 9887). */
  readonly overTls: boolean;
  /** The first reply. */
  readonly reply: ReplyPacket;
  /** Sends the next client packet of this session (authentication CONTINUE), returns the reply. */
  continue(body: Uint8Array, deadline: number, cancellation?: Cancellation): Promise<ReplyPacket>;
  /** Ends the session; frees its id on the connection. Idempotent. */
  end(): void;
}

/** An error for the caller: names the last server tried and says whether a retry may help. */
export class UpstreamError extends Error {
  constructor(
    message: string,
    readonly server: string,
    readonly retriable: boolean,
    readonly kind: "unavailable" | "timeout" | "protocol" | "exhausted" | "cancelled",
  ) {
    super(message);
    this.name = "UpstreamError";
  }
}

export type FailoverStateName = "PreferredActive" | "FailedOver" | "NoResponsiveServer";

/** RFC 9105 statistics of one server, plus what the engine knows about it. */
export interface ServerStatus {
  name: string;
  address: string;
  connected: boolean;
  singleConnect: "unknown" | "supported" | "unsupported";
  sessionsInFlight: number;
  /** Reply latency by packet type (the pool's live histograms, read at scrape time; not copied). */
  replyLatency: Readonly<Record<RequestType, Histogram>>;
  /** Connection set-up times (TCP connect plus any TLS handshake), live histogram. */
  connectLatency: Histogram;
  security: "tcp" | "certificate" | "psk-dhe" | "psk-only";
  /** Failed TLS handshakes by reason (none for tcp). */
  tlsHandshakeFailures: Readonly<Record<HandshakeFailureReason, number>>;
  counters: {
    connectionOpens: number;
    connectionCloses: number;
    connectionAborts: number;
    connectionFailures: number;
    connectionTimeouts: number;
    messagesSent: number;
    messagesReceived: number;
    errorsReceived: number;
    sessions: number;
  };
}

export interface EngineStatus {
  state: FailoverStateName;
  /** Index of the server new requests go to (FailedOver), else 0. */
  activeServer: number;
  servers: ServerStatus[];
}

export interface UpstreamEngine {
  /**
   * Starts a session: sends the first packet with failover in server order and resolves with the
   * first reply. Throws UpstreamError when no server could answer in time.
   * A reply whose status is ERROR fails over to the next server; FAIL and FOLLOW do not.
   */
  start(request: StartRequest): Promise<UpstreamSession>;
  /**
   * Sends to the server named `server` only, without failover and without moving the failover
   * state (accounting fan-out: every collector gets each record). Rejects with UpstreamError.
   */
  startOn(server: string, request: StartRequest): Promise<UpstreamSession>;
  status(): EngineStatus;
  /**
   * Calls `listener` after every failover state change (the state's name or the server new
   * requests go to), e.g. for health and systemd status; returns the unsubscribe function.
   */
  onStateChange(listener: (status: EngineStatus) => void): () => void;
  /** Connects in order and stops at the first success (startup warm-up). Never throws. */
  warmUp(): Promise<void>;
  /** Replaces the server list (SIGHUP); sessions in flight finish on their connections. */
  reconfigure(options: EngineOptions): void;
  /** Closes every connection; pending requests fail with kind "cancelled". */
  close(): Promise<void>;
}
