/**
 * The proxy as the daemon wires it, in-process: test servers → real upstream engine → proxy on
 * loopback. Parametrized by upstream (`upstream` maps each test server to the engine's server
 * entry and connector), so the same tests run over plain TCP and, e.g., stunnel TLS.
 */
import { silentLogger, type Logger } from "../../src/common/log";
import { Secret } from "../../src/common/secret";
import { startProxy, type ProxyServer } from "../../src/proxy";
import { connectorFor } from "../../src/transport";
import { tcpConnector } from "../../src/transport/tcp";
import type { Connector, TransportSecurity } from "../../src/transport/types";
import { createEngine } from "../../src/upstream/engine";
import type { UpstreamEngine, UpstreamServer } from "../../src/upstream/types";
import { testPki } from "./pki";
import { startStunnel, type Stunnel } from "./stunnel";
import { startTacacsServer, type TacacsServerOptions, type TestServer } from "./tacacs-server";

export const LAB_KEY = "labkey123";

/** How the engine reaches one test server: the plain TCP default, or through a TLS front. */
export interface Upstream {
  /** Adjusts a test server's options for this upstream (e.g. no obfuscation key behind TLS). */
  adapt(options: TacacsServerOptions): TacacsServerOptions;
  server(test: TestServer, index: number): Promise<Omit<UpstreamServer, "timeoutMs" | "singleConnection">>;
  connectorFor(security: TransportSecurity): Connector;
  stop(): Promise<void>;
}

/** `key` null: the servers have no shared secret (packets travel unencrypted). */
export function plainUpstream(key: string | null = LAB_KEY): Upstream {
  return {
    adapt: (options) => options,
    server: async (test, index) => ({
      name: `server${index}`,
      host: test.host,
      port: test.port,
      sharedSecret: key === null ? undefined : Secret.fromText(key),
      security: { kind: "tcp" },
    }),
    connectorFor: () => tcpConnector,
    stop: async () => {},
  };
}

/**
 * RFC 9887 upstream as in the transition guide: stunnel4 (TLS 1.3, test PKI) in front of each
 * test server, which then sees unobfuscated packets; the engine keeps `--shared-secret` labkey123
 * only for the downstream side.
 */
export function stunnelTlsUpstream(): Upstream {
  const tunnels: Stunnel[] = [];
  return {
    adapt: ({ key: _unused, ...options }) => options,
    server: async (test, index) => {
      const pki = await testPki();
      const tunnel = await startStunnel({ connect: test.port, service: { cert: pki.server.certPath, key: pki.server.keyPath } });
      tunnels.push(tunnel);
      return {
        name: `tls-server${index}`,
        host: tunnel.host,
        port: tunnel.port,
        sharedSecret: Secret.fromText(LAB_KEY),
        security: { kind: "tls", caPem: [pki.ca.certPem], useSystemCa: false, verifyServer: true, serverName: "localhost" },
      };
    },
    connectorFor,
    stop: async () => tunnels.forEach((tunnel) => tunnel.stop()),
  };
}

export interface ProxyStackOptions {
  /** One test server per entry, in preference order (default: one server with labkey123). */
  servers?: TacacsServerOptions[];
  upstream?: Upstream;
  proxySharedSecret?: string;
  singleConnection?: boolean;
  timeoutMs?: number;
  idleTimeoutMs?: number;
  maxProxyConnections?: number;
  logger?: Logger;
}

export interface ProxyStack {
  servers: TestServer[];
  engine: UpstreamEngine;
  proxy: ProxyServer;
  stop(): Promise<void>;
}

export async function startProxyStack(options: ProxyStackOptions = {}): Promise<ProxyStack> {
  const upstream = options.upstream ?? plainUpstream();
  const servers: TestServer[] = [];
  let engine: UpstreamEngine | undefined;
  let proxy: ProxyServer | undefined;
  const stop = async () => {
    await proxy?.close(0);
    await engine?.close();
    await upstream.stop();
    await Promise.all(servers.map((server) => server.stop()));
  };
  try {
    for (const serverOptions of options.servers ?? [{ key: LAB_KEY }]) servers.push(await startTacacsServer(upstream.adapt(serverOptions)));
    const entries: UpstreamServer[] = [];
    for (const [index, server] of servers.entries()) {
      entries.push({ ...(await upstream.server(server, index)), singleConnection: options.singleConnection ?? true, timeoutMs: options.timeoutMs ?? 1000 });
    }
    const logger = options.logger ?? silentLogger;
    engine = createEngine(
      { servers: entries, connectTimeoutMs: 1000, probeIntervalMs: 60_000, maxSessionsInFlight: 64 },
      { connectorFor: upstream.connectorFor, logger },
    );
    proxy = await startProxy({
      endpoint: { kind: "tcp", host: "127.0.0.1", port: 0 },
      socketMode: 0o660,
      engine,
      proxySharedSecret: () => (options.proxySharedSecret === undefined ? undefined : Secret.fromText(options.proxySharedSecret)),
      serverSecrets: () => entries.map((entry) => entry.sharedSecret),
      limits: { maxProxyConnections: options.maxProxyConnections ?? 64, proxyIdleTimeoutMs: options.idleTimeoutMs ?? 2000, maxBodyBytes: 65536 },
      logger,
    });
    return { servers, engine, proxy, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
