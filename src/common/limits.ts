/** Resource limits of the services, set by the configuration (see --help for the flags). */
export interface Limits {
  /** Concurrent gRPC streams over all API connections. */
  maxApiStreams: number;
  /** Concurrent gRPC streams on one API connection (our SETTINGS_MAX_CONCURRENT_STREAMS). */
  maxApiStreamsPerConnection: number;
  /** Concurrent server-streaming calls (health Watch) over all connections; a quarter of it per connection. */
  maxApiWatchStreams: number;
  /** Open API connections (each holds a file descriptor); a new one beyond it is closed at once. */
  maxApiConnections: number;
  /** Concurrent gRPC streams of one peer (a uid on the Unix socket, all of TCP as one); default peerShare(maxApiStreams). */
  maxApiStreamsPerPeer: number;
  /** Open API connections of one peer; default peerShare(maxApiConnections). */
  maxApiConnectionsPerPeer: number;
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

/**
 * The default share of a limit one peer may hold: half, so a peer that takes all it may still
 * leaves as much to the others (root's tacon pam and audit plugin included).
 */
export function peerShare(limit: number): number {
  return Math.ceil(limit / 2);
}
