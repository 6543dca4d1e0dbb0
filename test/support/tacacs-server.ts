/**
 * A fault-injecting TACACS+ server for tests, demos and benchmarks (loopback only).
 *
 * Plain TCP or TLS 1.3 (RFC 9887), with or without a shared secret, single-connect on or off
 * (RFC 8907 §4.3), many sessions multiplexed per connection. The policy (tacacs-policy.ts) decides
 * the answers; the faults below change how (and whether) they reach the client, and can be changed
 * while the server runs. Counters and accounting records let tests assert what reached the server.
 */
import type { Socket, TCPSocketListener } from "bun";
import {
  AcctStatus,
  AuthenStatus,
  AuthorStatus,
  CodecError,
  Flags,
  FrameReader,
  PacketType,
  decodeHeader,
  decodePacket,
  encodeAcctReply,
  encodeAuthenReply,
  encodeAuthorReply,
  encodePacket,
  errorReplyBody,
  type Packet,
  type PacketHeader,
} from "../../src/protocol";
import { startRecordPacer } from "./tls-record-pacer";
import { DEFAULT_POLICY, respond, type AccountingRecord, type AuthenState, type Outcome, type Policy } from "./tacacs-policy";

export type { AccountingRecord, Policy, PolicyUser } from "./tacacs-policy";
export { DEFAULT_POLICY } from "./tacacs-policy";

/** What goes wrong, per server. Every field can be changed at runtime with `setFaults`. */
export interface Faults {
  /** Stop listening: new connections are refused by the kernel (ECONNREFUSED). Open ones stay. */
  refuse: boolean;
  /** Accept, then close at once (FIN) without reading anything. */
  closeOnAccept: boolean;
  /** Accept and read, never answer (packets are still counted). */
  blackHole: boolean;
  /** Delay every reply by this many milliseconds (0: off). */
  delayMs: number;
  /** Close the connection (FIN) right after reading a request, without answering. */
  closeAfterRequest: boolean;
  /** Write the first half of the reply packet, then close. */
  closeMidReply: boolean;
  /** Answer with bytes that are no TACACS+ packet (a header with major version 4). */
  garbage: boolean;
  /**
   * Answer every request with this status instead of the policy's answer. "restart" exists for
   * authentication only (§5.4.5); authorization and accounting get their normal answers then.
   */
  replyStatus: "error" | "follow" | "restart" | undefined;
  /** Obfuscate replies with a different key (clears the unencrypted flag when there is no key). */
  wrongKey: boolean;
  /**
   * Never echo the single-connect flag, but keep multiplexing and keep the connection open: a client
   * that reuses the connection anyway shows up in `counters.connectionsAccepted`. (To model a server
   * without single-connect support, which closes after each session, use `singleConnect: false`.)
   */
  dropSingleConnect: boolean;
  /** Close a connection after this many milliseconds without traffic in either direction (0: off). */
  idleTimeoutMs: number;
  /**
   * Handle one packet per read and keep the rest until the next read, like tac_plus-ng: a client
   * that puts two packets into one TLS record waits forever for the second reply. Over TLS, set it
   * when the server starts: a record pacer then delivers each TLS record as its own read (Bun would
   * merge back-to-back records). Over plain TCP a read is a socket data event, and how the kernel
   * splits the stream decides which packets share one.
   */
  onePacketPerRead: boolean;
}

export const NO_FAULTS: Readonly<Faults> = Object.freeze({
  refuse: false,
  closeOnAccept: false,
  blackHole: false,
  delayMs: 0,
  closeAfterRequest: false,
  closeMidReply: false,
  garbage: false,
  replyStatus: undefined,
  wrongKey: false,
  dropSingleConnect: false,
  idleTimeoutMs: 0,
  onePacketPerRead: false,
});

export interface TlsServerOptions {
  /** Server certificate chain and key, PEM. */
  cert: string;
  key: string;
  /** CA (PEM) that client certificates must chain to; with `requestCert` this is mutual TLS. */
  ca?: string;
  /** Ask for a client certificate and refuse clients without a valid one. */
  requestCert?: boolean;
}

export interface TacacsServerOptions {
  /** Loopback address to bind: "127.0.0.1" (default) or "::1". */
  host?: string;
  /** 0 (default) picks a free port. */
  port?: number;
  /** Shared secret for §4.5 obfuscation. Without one (and always inside TLS) packets must be unencrypted. */
  key?: string;
  /** Serve TLS 1.3 only (RFC 9887). */
  tls?: TlsServerOptions;
  /** Agree to single-connect when the client asks (default true); false closes after each session. */
  singleConnect?: boolean;
  policy?: Policy;
  faults?: Partial<Faults>;
  /** Server list sent in FOLLOW replies (default "127.0.0.1"). */
  followServers?: string;
  /** Largest request body accepted (default 65536). */
  maxBodyLength?: number;
}

export interface Counters {
  connectionsAccepted: number;
  /** Connections open right now. */
  connectionsOpen: number;
  sessionsStarted: number;
  packetsReceived: number;
  packetsByType: { authentication: number; authorization: number; accounting: number };
  repliesSent: number;
  /** Authentication replies sent with status PASS (what the server decided, whatever the client decodes). */
  authenPasses: number;
  /** Streams closed because of a bad header, a wrong key or the wrong obfuscation mode. */
  protocolErrors: number;
}

export interface TestServer {
  readonly host: string;
  readonly port: number;
  readonly tls: boolean;
  readonly counters: Readonly<Counters>;
  /** Accounting requests in arrival order. */
  readonly records: readonly AccountingRecord[];
  /** Subjects (CN) of client certificates seen, one per TLS connection that presented one. */
  readonly clientCertificates: readonly string[];
  readonly faults: Readonly<Faults>;
  /** Changes faults from now on (e.g. `{ blackHole: true }`); fields not given keep their value. */
  setFaults(patch: Partial<Faults>): void;
  /** Aborts (TCP RST) every open connection now. */
  resetConnections(): void;
  /** Stops listening and closes everything; resolves when every connection has closed. */
  stop(): Promise<void>;
}

/** Recognisable junk: "GARBAGE!" reads as major version 4, which every TACACS+ decoder rejects. */
const GARBAGE = new TextEncoder().encode("GARBAGE!GARBAGE!GARBAGE!");

const TLS_MIN_VERSION = 0x0304;

/** One session on a connection: where authentication stands, and the seq_no the client sends next. */
interface Session {
  state: AuthenState | undefined;
  nextSeqNo: number;
}

interface Connection {
  id: number;
  reader: FrameReader;
  /** Single-connect as negotiated on the first packet (§4.3); undefined before it. */
  singleConnect: boolean | undefined;
  sessions: Map<number, Session>;
  /** Frames waiting for the next data event (onePacketPerRead). */
  backlog: Uint8Array[];
  /** Replies to write with the next flush. */
  batch: Uint8Array[];
  /** What the socket did not take last time; written first, on drain. */
  leftover: Uint8Array | undefined;
  flushQueued: boolean;
  endAfterFlush: boolean;
  /** end() was called: later packets are ignored. */
  closing: boolean;
  closed: boolean;
  timers: Set<ReturnType<typeof setTimeout>>;
  idleTimer: ReturnType<typeof setTimeout> | undefined;
}

type ServerSocket = Socket<Connection>;

function packetTypeName(type: PacketType): keyof Counters["packetsByType"] {
  if (type === PacketType.Authentication) return "authentication";
  return type === PacketType.Authorization ? "authorization" : "accounting";
}

/** The body of a forced reply (fault `replyStatus`), or undefined to answer normally. */
function forcedReply(kind: Faults["replyStatus"], type: PacketType, followServers: string): Uint8Array | undefined {
  if (kind === "error") return errorReplyBody(type, "injected ERROR");
  if (kind === "restart") {
    if (type !== PacketType.Authentication) return undefined;
    return encodeAuthenReply({ status: AuthenStatus.Restart, flags: 0, serverMsg: "injected RESTART", data: new Uint8Array(0) });
  }
  if (kind !== "follow") return undefined;
  // §5.4.3 / §6.2 / §7.3: FOLLOW carries the alternate servers in the data field.
  if (type === PacketType.Authentication) {
    return encodeAuthenReply({ status: AuthenStatus.Follow, flags: 0, serverMsg: "", data: new TextEncoder().encode(followServers) });
  }
  if (type === PacketType.Authorization) return encodeAuthorReply({ status: AuthorStatus.Follow, args: [], serverMsg: "", data: followServers });
  return encodeAcctReply({ status: AcctStatus.Follow, serverMsg: "", data: followServers });
}

export async function startTacacsServer(options: TacacsServerOptions = {}): Promise<TestServer> {
  const host = options.host ?? "127.0.0.1";
  if (host !== "127.0.0.1" && host !== "::1") throw new Error(`the test server binds loopback only, not ${host}`);
  const key = options.key === undefined ? undefined : new TextEncoder().encode(options.key);
  const wrongKey = new TextEncoder().encode(`wrong-${options.key ?? "key"}`);
  const overTls = options.tls !== undefined;
  // RFC 9887 §4: inside TLS packets are never obfuscated; without a key they cannot be.
  const expectUnencrypted = overTls || key === undefined;
  const allowSingleConnect = options.singleConnect ?? true;
  const policy = options.policy ?? DEFAULT_POLICY;
  const followServers = options.followServers ?? "127.0.0.1";
  const faults: Faults = { ...NO_FAULTS, ...options.faults };
  const counters: Counters = {
    connectionsAccepted: 0,
    connectionsOpen: 0,
    sessionsStarted: 0,
    packetsReceived: 0,
    packetsByType: { authentication: 0, authorization: 0, accounting: 0 },
    repliesSent: 0,
    authenPasses: 0,
    protocolErrors: 0,
  };
  const records: AccountingRecord[] = [];
  const clientCertificates: string[] = [];
  const open = new Set<ServerSocket>();
  let onAllClosed: (() => void) | undefined;

  // ---- writing ----
  // Everything written while handling one data event (or one timer) leaves in a single write:
  // replies are batched and flushed from a microtask. Under back-pressure the kernel's leftover
  // waits for `drain`, and new replies pile up in the batch without being copied again.

  function write(socket: ServerSocket, bytes: Uint8Array): void {
    const conn = socket.data;
    if (conn.closed) return;
    conn.batch.push(bytes);
    if (conn.leftover === undefined && !conn.flushQueued) {
      conn.flushQueued = true;
      queueMicrotask(() => flush(socket));
    }
  }

  /** Offers `bytes` to the socket; returns false (keeping the rest) when it took less. */
  function offer(socket: ServerSocket, bytes: Uint8Array): boolean {
    const written = socket.write(bytes);
    socket.data.leftover = written < bytes.length ? bytes.subarray(Math.max(written, 0)) : undefined;
    return socket.data.leftover === undefined;
  }

  /** Writes the leftover, then the batch; runs from the microtask and on `drain`. */
  function flush(socket: ServerSocket): void {
    const conn = socket.data;
    conn.flushQueued = false;
    if (conn.closed) return;
    if (conn.leftover !== undefined && !offer(socket, conn.leftover)) return;
    if (conn.batch.length > 0) {
      const bytes = conn.batch.length === 1 ? conn.batch[0]! : Buffer.concat(conn.batch);
      conn.batch = [];
      if (!offer(socket, bytes)) return;
    }
    if (conn.endAfterFlush) socket.end();
  }

  /** Graceful close (FIN) once everything queued has been written; nothing more is read. */
  function end(socket: ServerSocket): void {
    const conn = socket.data;
    conn.closing = true;
    if (conn.leftover !== undefined || conn.batch.length > 0) conn.endAfterFlush = true;
    else socket.end();
  }

  function touch(socket: ServerSocket): void {
    const conn = socket.data;
    if (faults.idleTimeoutMs <= 0) {
      if (conn.idleTimer !== undefined) clearTimeout(conn.idleTimer);
      conn.idleTimer = undefined;
      return;
    }
    if (conn.idleTimer !== undefined) clearTimeout(conn.idleTimer);
    conn.idleTimer = setTimeout(() => end(socket), faults.idleTimeoutMs);
  }

  function later(socket: ServerSocket, ms: number, action: () => void): void {
    const conn = socket.data;
    const timer = setTimeout(() => {
      conn.timers.delete(timer);
      if (!conn.closed) action();
    }, ms);
    conn.timers.add(timer);
  }

  // ---- replying ----

  /** Frames and delivers one reply, through the reply-side faults. */
  function reply(socket: ServerSocket, request: PacketHeader, body: Uint8Array, sessionOver: boolean): void {
    const conn = socket.data;
    let flags = expectUnencrypted ? Flags.Unencrypted : 0;
    if (conn.singleConnect && !faults.dropSingleConnect) flags |= Flags.SingleConnect;
    let replyKey = key;
    if (faults.wrongKey) {
      flags &= ~Flags.Unencrypted;
      replyKey = wrongKey;
    }
    const header = { version: request.version, type: request.type, seqNo: request.seqNo + 1, flags, sessionId: request.sessionId };
    const frame = encodePacket(header, body, replyKey);
    if (request.type === PacketType.Authentication && body[0] === AuthenStatus.Pass) counters.authenPasses++;
    const closeAfter = sessionOver && conn.singleConnect !== true;
    const deliver = (): void => {
      if (faults.closeMidReply) {
        write(socket, frame.subarray(0, frame.length >> 1));
        end(socket);
        return;
      }
      write(socket, faults.garbage ? GARBAGE : frame);
      counters.repliesSent++;
      touch(socket);
      if (closeAfter) end(socket);
    };
    if (faults.delayMs > 0) later(socket, faults.delayMs, deliver);
    else deliver();
  }

  /** A stream-level failure: say why in an ERROR reply when we can, then close. */
  function refuseStream(socket: ServerSocket, request: PacketHeader | undefined, message: string): void {
    counters.protocolErrors++;
    if (request !== undefined) {
      const frame = encodePacket(
        { version: request.version, type: request.type, seqNo: request.seqNo + 1, flags: expectUnencrypted ? Flags.Unencrypted : 0, sessionId: request.sessionId },
        errorReplyBody(request.type, message),
        key,
      );
      write(socket, frame);
    }
    end(socket);
  }

  function count(header: PacketHeader): void {
    counters.packetsReceived++;
    counters.packetsByType[packetTypeName(header.type)]++;
  }

  /** Decodes a client packet in the server's obfuscation mode; undefined when the stream was refused. */
  function readPacket(socket: ServerSocket, frame: Uint8Array): Packet | undefined {
    let packet: Packet;
    try {
      packet = decodePacket(frame, expectUnencrypted ? undefined : key, options.maxBodyLength);
    } catch (error) {
      if (!(error instanceof CodecError)) throw error;
      if (error.code !== "missing-key") return void refuseStream(socket, undefined, error.message);
      // An obfuscated packet where only unencrypted ones are valid: answer ERROR in the clear.
      const header = decodeHeader(frame, options.maxBodyLength);
      count(header);
      return void refuseStream(socket, header, overTls ? "obfuscated packet inside TLS (RFC 9887)" : "obfuscated packet but no shared secret is configured");
    }
    count(packet.header);
    if (!expectUnencrypted && (packet.header.flags & Flags.Unencrypted) !== 0) {
      return void refuseStream(socket, packet.header, "unencrypted packet refused: a shared secret is configured");
    }
    return packet;
  }

  function handleFrame(socket: ServerSocket, frame: Uint8Array): void {
    const conn = socket.data;
    if (conn.closing) return;
    const packet = readPacket(socket, frame);
    if (packet === undefined) return;
    const { header, body } = packet;
    // §4.3: the first packet on a connection decides single-connect for its lifetime.
    if (conn.singleConnect === undefined) conn.singleConnect = allowSingleConnect && (header.flags & Flags.SingleConnect) !== 0;
    if (faults.closeAfterRequest) return end(socket);
    if (faults.blackHole) return;

    const session = conn.sessions.get(header.sessionId);
    let outcome: Outcome;
    if (session === undefined && header.seqNo === 1) counters.sessionsStarted++;
    if (session !== undefined && header.seqNo !== session.nextSeqNo) {
      outcome = { reply: errorReplyBody(header.type, `expected seq_no ${session.nextSeqNo}, got ${header.seqNo}`), next: undefined };
    } else {
      const forced = forcedReply(faults.replyStatus, header.type, followServers);
      outcome = forced !== undefined ? { reply: forced, next: undefined } : respond(policy, session?.state, header, body);
    }
    if (outcome.record !== undefined) records.push({ connection: conn.id, ...outcome.record });
    if (outcome.next !== undefined) conn.sessions.set(header.sessionId, { state: outcome.next, nextSeqNo: header.seqNo + 2 });
    else conn.sessions.delete(header.sessionId);
    const sessionOver = outcome.next === undefined;
    if (outcome.reply !== undefined) reply(socket, header, outcome.reply, sessionOver);
    else if (sessionOver && conn.singleConnect !== true) end(socket);
  }

  function onData(socket: ServerSocket, chunk: Uint8Array): void {
    const conn = socket.data;
    if (conn.closing || conn.closed) return;
    touch(socket);
    let frames: Uint8Array[];
    try {
      frames = conn.reader.push(chunk);
    } catch (error) {
      if (!(error instanceof CodecError)) throw error;
      return refuseStream(socket, undefined, error.message);
    }
    if (!faults.onePacketPerRead) {
      for (const frame of frames) handleFrame(socket, frame);
    } else {
      // Frames may be views of `chunk`; keep copies for later events.
      for (const frame of frames) conn.backlog.push(frame.slice());
      const next = conn.backlog.shift();
      if (next !== undefined) handleFrame(socket, next);
    }
    pacer?.consumed(socket.remotePort);
  }

  function onOpen(socket: ServerSocket): void {
    counters.connectionsAccepted++;
    counters.connectionsOpen++;
    open.add(socket);
    socket.data = {
      id: counters.connectionsAccepted,
      reader: new FrameReader(options.maxBodyLength),
      singleConnect: undefined,
      sessions: new Map(),
      backlog: [],
      batch: [],
      leftover: undefined,
      flushQueued: false,
      endAfterFlush: false,
      closing: false,
      closed: false,
      timers: new Set(),
      idleTimer: undefined,
    };
    pacer?.opened(socket.remotePort);
    if (overTls) {
      const subject = socket.getPeerCertificate()?.subject?.CN;
      if (typeof subject === "string") clientCertificates.push(subject);
    }
    if (faults.closeOnAccept) {
      socket.end();
      return;
    }
    socket.setNoDelay(true);
    touch(socket);
  }

  function onClose(socket: ServerSocket): void {
    const conn = socket.data;
    if (conn === undefined || conn.closed) return;
    conn.closed = true;
    for (const timer of conn.timers) clearTimeout(timer);
    if (conn.idleTimer !== undefined) clearTimeout(conn.idleTimer);
    open.delete(socket);
    counters.connectionsOpen--;
    if (open.size === 0) onAllClosed?.();
  }

  const tls = options.tls && {
    cert: options.tls.cert,
    key: options.tls.key,
    ca: options.tls.ca,
    requestCert: options.tls.requestCert ?? false,
    rejectUnauthorized: options.tls.requestCert ?? false,
    minVersion: TLS_MIN_VERSION,
  };

  function listen(port: number): TCPSocketListener<Connection> {
    return Bun.listen<Connection>({
      hostname: host,
      port,
      ...(tls ? { tls } : {}),
      socket: {
        binaryType: "uint8array",
        open: onOpen,
        data: onData,
        drain: flush,
        close: onClose,
        error: (socket) => socket.terminate(),
      },
    });
  }

  // onePacketPerRead over TLS needs per-record reads: a record pacer listens in front (see its header).
  const pacedTls = overTls && faults.onePacketPerRead;
  let listener: TCPSocketListener<Connection> | undefined = listen(pacedTls ? 0 : (options.port ?? 0));
  const pacer = pacedTls ? startRecordPacer(host, options.port ?? 0, listener.port) : undefined;
  const port = pacer?.port ?? listener.port;

  let stopped = false;
  function applyRefuse(): void {
    if (stopped) return;
    if (pacer !== undefined) return pacer.setListening(!faults.refuse);
    if (faults.refuse && listener !== undefined) {
      listener.stop(false);
      listener = undefined;
    } else if (!faults.refuse && listener === undefined) {
      listener = listen(port);
    }
  }
  applyRefuse();

  return {
    host,
    port,
    tls: overTls,
    counters,
    records,
    clientCertificates,
    faults,
    setFaults(patch) {
      if (overTls && patch.onePacketPerRead && pacer === undefined) {
        throw new Error("onePacketPerRead over TLS must be set when the server starts (it needs the TLS record pacer)");
      }
      Object.assign(faults, patch);
      applyRefuse();
      for (const socket of open) touch(socket);
    },
    resetConnections() {
      for (const socket of open) socket.terminate();
    },
    async stop() {
      stopped = true;
      pacer?.stop();
      listener?.stop(true);
      listener = undefined;
      if (open.size === 0) return;
      const closed = new Promise<void>((resolve) => (onAllClosed = resolve));
      for (const socket of open) socket.terminate();
      await closed;
    },
  };
}
