/**
 * The TLS 1.3 external-PSK Connector (RFC 9887 §3.5 over RFC 8446): a plain TCP stream from the
 * inner connector, our own handshake and record layer on top. Bun's TLS (BoringSSL) has no
 * TLS 1.3 external-PSK support, hence the handshake in this folder.
 */
import { logger, type Logger } from "../../common/log";
import { transition, type Phase } from "../lifecycle";
import { formatRemote } from "../socket-stream";
import { tcpConnector } from "../tcp";
import { TransportError, type ByteStream, type Connector, type TransportSecurity } from "../types";
import { handshakeFailure, toTransportError } from "./alerts";
import { defaultDeps, discardReplacedSecrets, startHandshake, type HandshakeDeps, type PskHandshakeConfig } from "./handshake";
import { checkPskIdentity, MIN_PSK_KEY_OCTETS, PskMaterialError } from "./key-material";
import type { KeyLimits } from "./record-layer";
import { PskClientSession } from "./session";

export type PskSecurity = Extract<TransportSecurity, { kind: "psk" }>;

/** One tagged logger for every PSK connector (each logger() call registers a new child). */
const defaultLog = logger("transport.psk");

export interface PskConnectorOptions {
  /** The connector for the underlying byte stream; plain TCP by default. */
  inner?: Connector;
  /** Randomness for the handshake (tests). */
  deps?: HandshakeDeps;
  log?: Logger;
  /** Records per traffic key (tests lower them to see a rekey); RFC 8446 §5.5 defaults otherwise. */
  keyLimits?: KeyLimits;
}

/**
 * A Connector for one PSK configuration. Throws PskMaterialError at once for an identity outside
 * 1..65535 octets or too long to fit the ClientHello (whose extensions share one 2^16-1 block),
 * or a key shorter than 16 octets, so a bad configuration fails at startup.
 */
export function createPskConnector(security: PskSecurity, options: PskConnectorOptions = {}): Connector {
  checkPskIdentity(security.identity);
  if (security.key.length < MIN_PSK_KEY_OCTETS) {
    throw new PskMaterialError(`PSK key is ${security.key.length} octets; at least ${MIN_PSK_KEY_OCTETS} are required`);
  }
  if (security.keyExchange === "psk-dhe" && security.groups.length === 0) {
    throw new PskMaterialError("psk-dhe needs at least one key-exchange group");
  }
  const inner = options.inner ?? tcpConnector;
  const deps = options.deps ?? defaultDeps;
  const log = options.log ?? defaultLog;
  // Each handshake gets its own copy of the key and wipes it once the early secret is derived,
  // so the configuration's Secret may be wiped (on reload) while a connect is still under way.
  const handshakeConfig = (): PskHandshakeConfig => ({
    identity: security.identity,
    key: security.key.reveal().slice(),
    keyExchange: security.keyExchange,
    groups: security.keyExchange === "psk-dhe" ? security.groups : [],
    ...(security.serverName === undefined ? {} : { serverName: security.serverName }),
  });

  checkHelloFits(handshakeConfig(), deps);

  return {
    connect(target, handlers, timeoutMs) {
      const remote = formatRemote(target);
      const handshakeContext = `TLS PSK handshake with ${remote}`;
      let phase: Phase = "connecting";
      let raw: ByteStream | undefined;

      return new Promise<ByteStream>((resolve, reject) => {
        const fail = (error: TransportError): void => {
          if (phase !== "connecting") return;
          phase = transition(phase, "failed");
          clearTimeout(timer);
          raw?.close();
          reject(error);
        };

        const session = new PskClientSession(
          handshakeConfig(),
          {
            send: (bytes) => raw?.write(bytes),
            onEstablished(info) {
              if (phase !== "connecting") return;
              phase = transition(phase, "established");
              clearTimeout(timer);
              log.debug(`TLS PSK session with ${remote}: ${info.suite}, ${info.keyExchange}${info.group ? ` ${info.group}` : ""}`);
              resolve(stream);
            },
            onData(data) {
              if (phase === "open") handlers.onData(data);
            },
            onEnd(error) {
              raw?.close();
              if (phase === "connecting") {
                return fail(handshakeFailure(handshakeContext, error ?? new Error("handshake ended")));
              }
              if (phase !== "open") return;
              phase = transition(phase, "closed");
              handlers.onClose(error ? toTransportError(`TLS PSK session with ${remote}`, error) : undefined);
            },
          },
          deps,
          options.keyLimits,
        );

        const stream: ByteStream = {
          remote,
          write: (packet) => session.write(packet),
          close: () => session.close(),
        };

        // Once TCP connected (raw set), the time ran out in the handshake.
        const timer = setTimeout(
          () => fail(new TransportError(`${handshakeContext} timed out after ${timeoutMs} ms`, "timeout", raw ? "handshake_timeout" : undefined)),
          timeoutMs,
        );

        inner
          .connect(target, { onData: (chunk) => session.receive(chunk), onClose: (error) => session.transportClosed(error) }, timeoutMs)
          .then(
            (opened) => {
              raw = opened;
              if (phase === "connecting") session.start();
              else opened.close();
            },
            (error: unknown) => fail(toTransportError(handshakeContext, error)),
          );
      });
    },
  };
}

/** Encodes one ClientHello up front: an identity near 2^16 octets cannot fit beside the other extensions. */
function checkHelloFits(config: PskHandshakeConfig, deps: HandshakeDeps): void {
  try {
    discardReplacedSecrets(startHandshake(config, deps).state, undefined);
  } catch (error) {
    if (!(error instanceof RangeError)) throw error;
    throw new PskMaterialError(
      `PSK identity of ${config.identity.length} octets does not fit in a TLS ClientHello (about 65,000 octets at most)`,
    );
  } finally {
    config.key.fill(0);
  }
}
