/**
 * The downstream TACACS+ listener: accepts local clients on a Unix socket or loopback TCP
 * (bound through common/local-socket), bounds concurrent connections and hands each accepted
 * connection to a ConnectionBridge.
 */
import { createServer, type Socket } from "node:net";
import { listenLocal, LocalSocketError, type BoundEndpoint } from "../common/local-socket";
import { systemClock } from "../upstream/clock";
import { ConnectionBridge, type DownstreamPeer, type ProxyCounters } from "./connection-bridge";
import type { KeySource } from "./downstream-keys";
import { ProxyConfigError, type ProxyOptions, type ProxyServer } from "./types";

/** How long connections get at shutdown to flush their last reply before they are cut. */
const SHUTDOWN_FLUSH_MS = 200;

/** Resolves when every socket has closed, or after `timeoutMs`. */
function allClosed(sockets: ReadonlySet<Socket>, timeoutMs: number): Promise<void> {
  const open = [...sockets].filter((socket) => !socket.destroyed);
  if (open.length === 0) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, timeoutMs);
    let left = open.length;
    for (const socket of open) {
      socket.once("close", () => {
        if (--left === 0) {
          clearTimeout(timer);
          resolve();
        }
      });
    }
  });
}

function peerFor(socket: Socket): DownstreamPeer {
  const remote = socket.remoteAddress ? `${socket.remoteAddress}:${socket.remotePort}` : "unix";
  return {
    remote,
    // node:net queues what the kernel does not take yet (back-pressure is bounded: one reply per packet).
    write: (bytes) => void socket.write(bytes),
    // Flush the last reply, then release the descriptor even if the client keeps its side open.
    close: () => void socket.end(() => socket.destroy()),
  };
}

/**
 * Counts refusals at the connection limit so the warning appears once per burst, not per
 * connection: the first refusal warns, the next accepted connection reports the burst's size.
 */
export class BurstCounter {
  #refused = 0;

  /** Returns true when this refusal starts a burst (log it). */
  refuse(): boolean {
    this.#refused += 1;
    return this.#refused === 1;
  }

  /** Returns the number refused in the burst that just ended (0: none). */
  accept(): number {
    const refused = this.#refused;
    this.#refused = 0;
    return refused;
  }
}

export async function startProxy(options: ProxyOptions): Promise<ProxyServer> {
  const { engine, limits, logger } = options;
  const clock = options.clock ?? systemClock;
  const keys: KeySource = {
    proxySharedSecret: options.proxySharedSecret,
    serverSecrets: options.serverSecrets,
    activeServer: () => engine.status().activeServer,
  };
  const bridges = new Set<ConnectionBridge>();
  const sockets = new Set<Socket>();
  const burst = new BurstCounter();
  const { metrics } = options;
  const counters: ProxyCounters = { connectionsRefused: 0, connectionsEvicted: 0, firstPacketTimeouts: 0 };
  /** Closes the oldest connection that has not completed a request; false when every one has. */
  const evictUnproductive = (): boolean => {
    for (const bridge of bridges) {
      if (bridge.productive) continue;
      bridges.delete(bridge);
      counters.connectionsEvicted++;
      logger.debug(`proxy ${bridge.peer.remote}: closed to make room at the connection limit (no request yet)`);
      bridge.shutdown();
      return true;
    }
    return false;
  };

  // Half-open allowed: a client that sends its request and then FIN still gets the reply.
  const server = createServer({ allowHalfOpen: true }, (socket) => {
    socket.on("error", (error) => logger.debug(`proxy connection error: ${error.message}`));
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    if (bridges.size >= limits.maxProxyConnections && !evictUnproductive()) {
      counters.connectionsRefused++;
      if (metrics) metrics.connections.refused += 1;
      if (burst.refuse()) {
        logger.warn(`proxy: ${limits.maxProxyConnections} connections open (the limit); refusing new connections`);
      }
      socket.destroy();
      return;
    }
    const refused = burst.accept();
    if (refused > 0) logger.warn(`proxy: refused ${refused} connection(s) while at the connection limit`);
    const bridge = new ConnectionBridge(peerFor(socket), {
      engine,
      keys,
      maxBodyBytes: limits.maxBodyBytes,
      idleTimeoutMs: limits.proxyIdleTimeoutMs,
      counters,
      logger,
      clock,
      ...(options.accounting ? { accounting: options.accounting } : {}),
      ...(metrics ? { metrics } : {}),
    });
    bridges.add(bridge);
    if (metrics) {
      metrics.connections.accepted += 1;
      metrics.connections.open += 1;
    }
    void bridge.done.then(() => {
      bridges.delete(bridge);
      if (metrics) metrics.connections.open -= 1;
    });
    socket.on("data", (chunk: Buffer) => bridge.onData(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength)));
    socket.on("end", () => bridge.onPeerEnded());
    socket.on("close", () => bridge.onPeerClosed());
  });
  server.on("error", (error) => logger.error(`proxy listener: ${error.message}`));

  let bound: BoundEndpoint;
  try {
    // Refuses non-loopback TCP before binding anything; prepares and permissions a Unix socket.
    bound = await listenLocal(server, options.endpoint, options.socketMode);
  } catch (error) {
    if (error instanceof LocalSocketError) throw new ProxyConfigError(`--proxy-endpoint: ${error.message}`);
    throw error;
  }
  const endpoint = bound.endpoint;

  let closing: Promise<void> | undefined;
  async function close(graceMs: number): Promise<void> {
    const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
    const inFlight = Promise.all([...bridges].map((bridge) => bridge.done));
    let timer: unknown;
    const grace = new Promise<void>((resolve) => (timer = clock.setTimer(resolve, graceMs)));
    await Promise.race([inFlight, grace]);
    clock.clearTimer(timer);
    for (const bridge of bridges) bridge.shutdown();
    // Shut-down bridges flush their last reply (an ERROR for a request in flight) and end; cut the rest.
    await allClosed(sockets, SHUTDOWN_FLUSH_MS);
    for (const socket of sockets) socket.destroy();
    await stopped;
    bound.release();
  }

  return {
    endpoint,
    connections: () => bridges.size,
    counters,
    close: (graceMs) => (closing ??= close(graceMs)),
  };
}
