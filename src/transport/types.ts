/**
 * The one seam between the upstream engine and the wire: a Connector opens a byte stream to a
 * server. Plain TCP, certificate TLS and TLS 1.3 external PSK all implement it; nothing above
 * this folder knows which one it got.
 */
import type { Secret } from "../common/secret";
import type { HandshakeFailureReason } from "./handshake-failure";

export interface StreamHandlers {
  /** Bytes received, in order. Chunk boundaries are arbitrary. */
  onData(chunk: Uint8Array): void;
  /** The stream ended: `error` is set for resets, alerts and protocol failures; called once. */
  onClose(error?: Error): void;
}

export interface ByteStream {
  /**
   * Writes one whole TACACS+ packet. Transports keep the bytes of one call together and never
   * merge two calls into one TLS record (some servers read one packet per readable event and
   * would leave a second packet in the same record unanswered); plain TCP may send the packets
   * of one event-loop turn in one segment.
   * Writes after close are dropped. Internal buffering handles back-pressure.
   */
  write(packet: Uint8Array): void;
  /** Closes the stream (close_notify on TLS); idempotent. onClose still fires once. */
  close(): void;
  /** "host:port" of the peer, for logs. */
  readonly remote: string;
}

export interface ConnectTarget {
  host: string;
  port: number;
  /** Local address to bind before connecting (YANG source-ip), if any. */
  sourceAddress?: string;
}

export type TlsGroup = "secp384r1" | "secp256r1" | "x25519";

/** How the stream to one server is protected. */
export type TransportSecurity =
  | { kind: "tcp" }
  | {
      kind: "tls";
      /** Extra trust anchors in PEM; combined with the system store when useSystemCa. */
      caPem: readonly string[];
      useSystemCa: boolean;
      /** false only with --insecure-disable-certificate-verification. */
      verifyServer: boolean;
      /** SNI and the identity to verify; defaults to the target host when it is a name. */
      serverName?: string;
      clientCertificatePem?: string;
      clientKeyPem?: Secret;
      /** Key-exchange groups in preference order; the TLS library's defaults when absent. */
      groups?: readonly TlsGroup[];
    }
  | {
      kind: "psk";
      identity: Uint8Array;
      key: Secret;
      /** psk-dhe sends psk_dhe_ke with key shares; psk-only sends psk_ke alone. */
      keyExchange: "psk-dhe" | "psk-only";
      /** Key-share groups in preference order (psk-dhe only). */
      groups: readonly TlsGroup[];
      serverName?: string;
    };

export interface Connector {
  /**
   * Opens a stream, rejecting with a TransportError after `timeoutMs` or on any failure
   * (refused, unreachable, TLS alert, certificate rejected).
   */
  connect(target: ConnectTarget, handlers: StreamHandlers, timeoutMs: number): Promise<ByteStream>;
}

/**
 * A failure to open or keep a stream; the message is operator-readable and names no secret.
 * `handshakeFailure` is set when a TLS handshake had begun (TCP connected) and failed.
 */
export class TransportError extends Error {
  constructor(
    message: string,
    readonly kind: "refused" | "timeout" | "tls" | "reset" | "other",
    readonly handshakeFailure?: HandshakeFailureReason,
  ) {
    super(message);
    this.name = "TransportError";
  }
}
