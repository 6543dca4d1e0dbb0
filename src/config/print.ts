/**
 * The effective configuration as JSON for --print-config: every secret "[redacted]",
 * certificates described (subject, issuer, expiry, fingerprint) rather than dumped.
 */
import { X509Certificate } from "node:crypto";
import { formatEndpoint } from "../common/endpoint";
import type { TransportSecurity } from "../transport/types";
import type { UpstreamServer } from "../upstream/types";
import { oneLineName, splitPemCertificates } from "./tls-material";
import type { RuntimeConfig } from "./types";

function describeCertificates(pem: string): object[] {
  return splitPemCertificates(pem).map((block) => {
    const certificate = new X509Certificate(block);
    return {
      subject: oneLineName(certificate.subject),
      issuer: oneLineName(certificate.issuer),
      notAfter: certificate.validTo,
      sha256: certificate.fingerprint256,
    };
  });
}

/** A PSK identity as text when it is printable UTF-8, else as hex. */
function identityText(identity: Uint8Array): string {
  const text = new TextDecoder("utf-8", { fatal: false }).decode(identity);
  return /^[\x20-\x7e]+$/.test(text) ? text : `hex:${Buffer.from(identity).toString("hex")}`;
}

function printableSecurity(security: TransportSecurity): object {
  switch (security.kind) {
    case "tcp":
      return security;
    case "tls":
      return {
        kind: "tls",
        verifyServer: security.verifyServer,
        useSystemCa: security.useSystemCa,
        serverName: security.serverName ?? null,
        caCertificates: security.caPem.flatMap(describeCertificates),
        clientCertificate: security.clientCertificatePem === undefined ? null : describeCertificates(security.clientCertificatePem),
        clientKey: security.clientKeyPem ?? null,
      };
    case "psk":
      return {
        kind: "psk",
        identity: identityText(security.identity),
        key: security.key,
        keyExchange: security.keyExchange,
        groups: security.groups,
        serverName: security.serverName ?? null,
      };
  }
}

function printableServer(server: UpstreamServer): object {
  return {
    name: server.name,
    host: server.host,
    port: server.port,
    sourceAddress: server.sourceAddress ?? null,
    sharedSecret: server.sharedSecret ?? null,
    security: printableSecurity(server.security),
    singleConnection: server.singleConnection,
    timeoutMs: server.timeoutMs,
  };
}

/** Secrets are Secret objects, whose toJSON() is "[redacted]". */
export function printConfig(config: RuntimeConfig): string {
  const printable = {
    source: config.source,
    services: config.services,
    listenEndpoint: formatEndpoint(config.listenEndpoint),
    proxyEndpoint: config.proxyEndpoint ? formatEndpoint(config.proxyEndpoint) : null,
    metricsEndpoint: config.metricsEndpoint ? formatEndpoint(config.metricsEndpoint) : null,
    socketMode: config.socketMode.toString(8).padStart(4, "0"),
    proxySharedSecret: config.proxySharedSecret ?? null,
    verbosity: config.verbosity,
    engine: { ...config.engine, servers: config.engine.servers.map(printableServer) },
    limits: config.limits,
    accounting: config.accounting,
  };
  return `${JSON.stringify(printable, null, 2)}\n`;
}
