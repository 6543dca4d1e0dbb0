/**
 * HTTP/2 over Bun.listen sockets (Unix or TCP, cleartext with prior knowledge): one Connection
 * per socket. It is a LocalListener, so listenLocal() binds it with the Unix socket rules.
 */
import type { Socket, SocketListener } from "bun";
import type { ListenTarget, LocalListener } from "../../common/local-socket";
import { peerOfSocket, type PeerCredentials } from "../../common/peer-credentials";
import { Connection, type H2Stream } from "./connection";
import { ErrorCode, FrameBuffer, FrameType } from "./frames";
import { describePeer, peerKey, PeerTable, type PeerUsage } from "./peers";
import type { RequestHeaders } from "./request-headers";
import { newH2Counters, type H2Counters } from "./guards";
import type { ConnectionCounts } from "../../common/request-metrics";

export { encodeHeaderBlock } from "./hpack";
export type { ConnectionUsage, H2Stream, StreamListener } from "./connection";
export type { RequestHeaders } from "./request-headers";
export type { H2Counters } from "./guards";
export type { PeerTable, PeerUsage } from "./peers";

export interface H2ServerOptions {
  /** SETTINGS_MAX_CONCURRENT_STREAMS of each connection. */
  maxConcurrentStreams: number;
  /**
   * Open connections. At the limit, the oldest connection that has not completed a request yet
   * makes room for the new one; when every one has, the new one is closed before a byte is read.
   */
  maxConnections: number;
  /**
   * Open connections of one peer (see peers.ts); at it, the peer's own oldest connection without
   * a completed request makes room, else the new one is refused.
   */
  maxConnectionsPerPeer: number;
  /** A connection was refused; `reason` names the peer and the limit. */
  onConnectionRefused(reason: string): void;
  /** Connection counters for metrics, updated in place. */
  counts?: ConnectionCounts;
  idleTimeoutMs: number;
  /** `peer`: who connected, on a Unix socket (SO_PEERCRED); undefined on TCP. */
  onStream(stream: H2Stream, headers: RequestHeaders, peer: PeerCredentials | undefined): void;
  onError(message: string): void;
}

export class H2Server implements LocalListener {
  readonly #options: H2ServerOptions;
  readonly #connections = new Set<Connection>();
  readonly counters: H2Counters = newH2Counters();
  /** Connections and calls per peer (the gRPC layer counts the calls). */
  readonly peers = new PeerTable();
  #listener: SocketListener<Connection | undefined> | undefined;
  #unix = false;

  constructor(options: H2ServerOptions) {
    this.#options = options;
  }

  get port(): number | undefined {
    const listener = this.#listener;
    return (listener as { port?: number } | undefined)?.port;
  }

  async listen(target: ListenTarget): Promise<void> {
    const socket = {
      open: (socket: Socket<Connection | undefined>) => this.#open(socket),
      data: (socket: Socket<Connection | undefined>, chunk: Uint8Array) => socket.data?.receive(chunk),
      drain: (socket: Socket<Connection | undefined>) => socket.data?.drain(),
      close: (socket: Socket<Connection | undefined>) => socket.data?.closed(),
      error: (socket: Socket<Connection | undefined>, error: Error) => {
        this.#options.onError(`connection error: ${error.message}`);
        socket.data?.closed();
      },
    };
    this.#unix = "path" in target;
    this.#listener =
      "path" in target
        ? Bun.listen<Connection | undefined>({ unix: target.path, socket, data: undefined })
        : Bun.listen<Connection | undefined>({ hostname: target.host, port: target.port, socket, data: undefined });
  }

  /** Stops accepting connections; open ones go on. */
  close(): void {
    this.#listener?.stop(false);
  }

  /** GOAWAY on every connection: calls in flight finish, then each connection closes. */
  goAway(): void {
    for (const connection of this.#connections) connection.goAway();
  }

  /** Resolves when every connection has closed, or after `timeoutMs`. */
  async closed(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.#connections.size > 0 && Date.now() < deadline) await Bun.sleep(5);
  }

  /** Closes every connection now. */
  destroy(): void {
    for (const connection of [...this.#connections]) connection.destroy();
  }

  #open(socket: Socket<Connection | undefined>): void {
    // Read once, while the descriptor is surely this connection's.
    const credentials = this.#unix ? peerOfSocket(socket) : undefined;
    const peer = this.peers.of(peerKey(this.#unix, credentials));
    const refusal = this.#admit(peer);
    if (refusal !== undefined) {
      this.peers.release(peer);
      refuse(socket, refusal);
      if (this.#options.counts) this.#options.counts.refused += 1;
      this.#options.onConnectionRefused(refusal);
      return;
    }
    socket.setNoDelay?.(true);
    const onStream = this.#options.onStream;
    const counts = this.#options.counts;
    if (counts) {
      counts.accepted += 1;
      counts.open += 1;
    }
    peer.connections++;
    const connection = new Connection(
      { write: (bytes) => socket.write(bytes), end: () => socket.end() },
      {
        maxConcurrentStreams: this.#options.maxConcurrentStreams,
        idleTimeoutMs: this.#options.idleTimeoutMs,
        counters: this.counters,
        peer,
        onStream: (stream, headers) => onStream(stream, headers, credentials),
        onError: this.#options.onError,
        onClose: () => {
          if (!this.#connections.delete(connection)) return;
          if (counts) counts.open -= 1;
          peer.connections--;
          this.peers.release(peer);
        },
      },
    );
    this.#connections.add(connection);
    socket.data = connection;
  }

  /**
   * Makes room for a new connection of `peer`, or says why it is refused: first the peer's own
   * limit (its oldest unproductive connection may go), then the listener's (anyone's may).
   */
  #admit(peer: PeerUsage): string | undefined {
    const perPeer = this.#options.maxConnectionsPerPeer;
    if (peer.connections >= perPeer && !this.#evictUnproductive(peer)) {
      this.counters.peerConnectionsRefused++;
      return `${describePeer(peer.key)} has ${peer.connections} open connections (--max-api-connections-per-peer ${perPeer})`;
    }
    if (this.#connections.size >= this.#options.maxConnections && !this.#evictUnproductive()) {
      this.counters.connectionsRefused++;
      return `${this.#connections.size} connections are open (--max-api-connections ${this.#options.maxConnections})`;
    }
    return undefined;
  }

  /**
   * Closes the oldest connection (of `peer`, when given) that holds no stream and never completed
   * a request (a silent or dripping client holding a slot); false when there is none. Sets
   * iterate in insertion order.
   */
  #evictUnproductive(peer?: PeerUsage): boolean {
    for (const connection of this.#connections) {
      if (connection.productive || connection.openStreams > 0) continue;
      if (peer !== undefined && connection.usage.peer !== peer) continue;
      this.counters.connectionsEvicted++;
      this.#options.onError("connection closed to make room: it completed no request");
      connection.destroy();
      return true;
    }
    return false;
  }
}

/**
 * Closes a connection refused at a limit before reading a byte of it: our SETTINGS (the server
 * preface, RFC 9113 §3.4) and GOAWAY ENHANCE_YOUR_CALM with the reason as debug data (§6.8).
 */
function refuse(socket: Socket<Connection | undefined>, reason: string): void {
  const out = new FrameBuffer();
  out.frame(FrameType.SETTINGS, 0, 0);
  const debug = new TextEncoder().encode(reason);
  const payload = new Uint8Array(8 + debug.length);
  new DataView(payload.buffer).setUint32(4, ErrorCode.ENHANCE_YOUR_CALM);
  payload.set(debug, 8);
  out.frame(FrameType.GOAWAY, 0, 0, payload);
  socket.end(out.take());
}
