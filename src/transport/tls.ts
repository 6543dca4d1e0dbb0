/**
 * TACACS+ over TLS 1.3 with certificates (RFC 9887) through Bun.connect: TLS 1.3 only, SNI,
 * server verification against the system store plus configured CAs, optional client certificate.
 * The RFC 9887 packet rules (unencrypted flag, no obfuscation) belong to the engine, not here.
 */
import { isIP } from "node:net";
import type { TLSOptions } from "bun";
import { formatRemote, openSocketStream } from "./socket-stream";
import { tcpFailure } from "./tcp";
import { tlsFailure, verificationFailure, type TlsPeer } from "./tls-failure";
import { TransportError, type ConnectTarget, type Connector, type TlsGroup, type TransportSecurity } from "./types";

export type TlsSecurity = Extract<TransportSecurity, { kind: "tls" }>;

/** TLS 1.3 (RFC 9887 §3.1). Bun wants the protocol number; the string "TLSv1.3" is rejected. */
const TLS_1_3 = 0x0304;

/**
 * The longest wait after our Finished for a refusal of our client certificate (a session ticket
 * ends it sooner): a few times the handshake's own duration, which stands for one round trip
 * plus the server's work, within these bounds.
 */
const SETTLE_MIN_MS = 50;
const SETTLE_MAX_MS = 1_000;

export function settleMs(handshakeMs: number): number {
  return Math.min(SETTLE_MAX_MS, Math.max(SETTLE_MIN_MS, Math.ceil(handshakeMs * 3)));
}

/** SNI and the identity to verify: the configured name, else the host when it is a name (RFC 6066 §3: no IP literals in SNI). */
export function serverNameFor(security: TlsSecurity, target: ConnectTarget): string | undefined {
  return security.serverName ?? (isIP(target.host) === 0 ? target.host : undefined);
}

/**
 * Trust anchors: the system store (and Bun's bundled Mozilla roots: node:tls "default") when
 * useSystemCa, plus the configured CAs. Bun's `ca` replaces its defaults, so both are listed.
 */
export function trustAnchors(security: TlsSecurity): string[] {
  // node:tls is loaded on first use: it costs ~25 ms of startup, and plain TCP never needs it.
  const system = security.useSystemCa ? process.getBuiltinModule("node:tls").getCACertificates("default") : [];
  return [...system, ...security.caPem];
}

/** BoringSSL's group names (Bun rejects the RFC 8446 spelling "secp384r1"). */
const BORINGSSL_GROUPS: Record<TlsGroup, string> = {
  secp384r1: "P-384",
  secp256r1: "P-256",
  x25519: "X25519",
};

export function boringSslGroups(groups: readonly TlsGroup[]): string {
  return groups.map((group) => BORINGSSL_GROUPS[group]).join(":");
}

/** Options Bun.connect accepts beyond its type definitions. */
type BunTlsOptions = TLSOptions & { minVersion: number; ecdhCurve?: string };

export function tlsOptions(security: TlsSecurity, serverName: string | undefined, ca: readonly string[]): BunTlsOptions {
  return {
    minVersion: TLS_1_3,
    rejectUnauthorized: security.verifyServer,
    // Bun would send an IP literal as SNI; "" sends none (RFC 6066 §3) and still verifies the IP.
    serverName: serverName ?? "",
    ...(security.verifyServer ? { ca: [...ca] } : {}),
    ...(security.clientCertificatePem === undefined ? {} : { cert: security.clientCertificatePem }),
    ...(security.groups?.length ? { ecdhCurve: boringSslGroups(security.groups) } : {}),
    // The key is revealed only into the options of this one connect.
    ...(security.clientKeyPem === undefined ? {} : { key: security.clientKeyPem.reveal() }),
  };
}

export function tlsConnector(security: TlsSecurity): Connector {
  // Loading the trust store once per connector, not per connect.
  const ca = security.verifyServer ? trustAnchors(security) : [];
  return {
    connect(target, handlers, timeoutMs) {
      const peer: TlsPeer = { remote: formatRemote(target), serverName: serverNameFor(security, target) };
      if ((security.clientCertificatePem === undefined) !== (security.clientKeyPem === undefined)) {
        const message = `TLS with ${peer.remote}: a client certificate needs its key and a key needs its certificate`;
        return Promise.reject(new TransportError(message, "tls"));
      }
      return openSocketStream({
        target,
        handlers,
        timeoutMs,
        tls: tlsOptions(security, peer.serverName, ca),
        checkHandshake(authorizationError, handshakeMs) {
          // With verification off (the operator's explicit choice) Bun's findings are ignored.
          if (security.verifyServer && authorizationError) return verificationFailure(peer, authorizationError);
          return settleMs(handshakeMs);
        },
        describeFailure: (cause, stage) => tlsFailure(peer, cause, stage, () => tcpFailure(target, cause, stage)),
      });
    },
  };
}
