/**
 * The transport layer's entry point: one Connector per configured server security. Call it once
 * per server configuration (a TLS connector loads its trust store once; a PSK connector checks
 * its key material at once and throws a PskMaterialError for a bad one).
 */
import { createPskConnector } from "./psk/connector";
import { keyLimitsFromEnvironment } from "./psk/record-layer";
import { tcpConnector } from "./tcp";
import { tlsConnector } from "./tls";
import type { Connector, TransportSecurity } from "./types";

export function connectorFor(security: TransportSecurity): Connector {
  switch (security.kind) {
    case "tcp":
      return tcpConnector;
    case "tls":
      return tlsConnector(security);
    case "psk":
      return createPskConnector(security, { keyLimits: keyLimitsFromEnvironment(process.env) });
  }
}

export { TransportError } from "./types";
export type { ByteStream, ConnectTarget, Connector, StreamHandlers, TransportSecurity } from "./types";
