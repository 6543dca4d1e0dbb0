/**
 * Decoding of the ServerHello and HelloRetryRequest (RFC 8446 §4.1.3, §4.1.4). Syntax only;
 * the handshake state machine checks the values against what we offered.
 */
import { ALERT, TlsFailure } from "./alerts";
import { EXTENSION, TLS13, parseExtensions, rejectUnexpectedExtensions } from "./messages";
import { ByteReader } from "./wire";

/** SHA-256("HelloRetryRequest"): the random of a HelloRetryRequest (§4.1.3). */
const HRR_RANDOM = Buffer.from("cf21ad74e59a6111be1d8c021e65b891c2a211167abb8c5e079e09e2c8a8339c", "hex");

export interface ServerHello {
  kind: "server_hello";
  sessionIdEcho: Uint8Array;
  cipherSuite: number;
  /** Absent: the server ignored our PSK (it wants a certificate handshake). */
  selectedIdentity?: number;
  /** Absent for psk_ke. */
  keyShare?: { group: number; publicKey: Uint8Array };
}

export interface HelloRetryRequest {
  kind: "hello_retry_request";
  sessionIdEcho: Uint8Array;
  cipherSuite: number;
  selectedGroup?: number;
  cookie?: Uint8Array;
}

export function parseServerHello(body: Uint8Array): ServerHello | HelloRetryRequest {
  const reader = new ByteReader(body, "ServerHello");
  const legacyVersion = reader.u16();
  const random = reader.bytes(32);
  const sessionIdEcho = reader.vector(1);
  const cipherSuite = reader.u16();
  const compression = reader.u8();
  // A TLS 1.2 ServerHello may end here; it has no supported_versions and fails below.
  const extensions = reader.remaining > 0 ? parseExtensions(reader.vector(2), "ServerHello") : new Map<number, Uint8Array>();
  reader.end();

  if (legacyVersion !== 0x0303 || compression !== 0) {
    throw new TlsFailure(ALERT.illegal_parameter, "ServerHello has an invalid legacy version or compression method");
  }
  const version = extensions.get(EXTENSION.supported_versions);
  const selectedVersion = version === undefined ? undefined : readU16(version, "supported_versions");
  // §4.2.1: without supported_versions the server speaks TLS 1.2 or older (protocol_version);
  // with it, any version but the TLS 1.3 we offered is illegal_parameter.
  if (selectedVersion === undefined) throw new TlsFailure(ALERT.protocol_version, "server did not select TLS 1.3");
  if (selectedVersion !== TLS13) {
    throw new TlsFailure(ALERT.illegal_parameter, `server selected version 0x${selectedVersion.toString(16)}, which we did not offer`);
  }

  if (Buffer.from(random).equals(HRR_RANDOM)) {
    rejectUnexpectedExtensions(extensions, [EXTENSION.supported_versions, EXTENSION.key_share, EXTENSION.cookie], "HelloRetryRequest");
    const keyShare = extensions.get(EXTENSION.key_share);
    const cookieData = extensions.get(EXTENSION.cookie);
    const retry: HelloRetryRequest = { kind: "hello_retry_request", sessionIdEcho, cipherSuite };
    if (keyShare !== undefined) retry.selectedGroup = readU16(keyShare, "HelloRetryRequest key_share");
    if (cookieData !== undefined) {
      const cookieReader = new ByteReader(cookieData, "cookie");
      retry.cookie = cookieReader.vector(2);
      cookieReader.end();
      if (retry.cookie.length === 0) throw new TlsFailure(ALERT.decode_error, "HelloRetryRequest has an empty cookie");
    }
    return retry;
  }

  rejectUnexpectedExtensions(extensions, [EXTENSION.supported_versions, EXTENSION.key_share, EXTENSION.pre_shared_key], "ServerHello");
  const hello: ServerHello = { kind: "server_hello", sessionIdEcho, cipherSuite };
  const psk = extensions.get(EXTENSION.pre_shared_key);
  if (psk !== undefined) hello.selectedIdentity = readU16(psk, "pre_shared_key");
  const share = extensions.get(EXTENSION.key_share);
  if (share !== undefined) {
    const shareReader = new ByteReader(share, "ServerHello key_share");
    hello.keyShare = { group: shareReader.u16(), publicKey: shareReader.vector(2) };
    shareReader.end();
  }
  return hello;
}

function readU16(data: Uint8Array, what: string): number {
  const reader = new ByteReader(data, what);
  const value = reader.u16();
  reader.end();
  return value;
}
