/**
 * The PSK ClientHello (RFC 8446 §4.1.2) and its binder (§4.2.11.2). pre_shared_key is the last
 * extension; its binder is an HMAC over the transcript up to, not including, the binders list.
 */
import { isIP } from "node:net";
import type { TlsGroup } from "../types";
import type { CipherSuite } from "./cipher-suites";
import { GROUP_CODE } from "./key-exchange";
import { EXTENSION, HANDSHAKE, LEGACY_VERSION, TLS13, encodeHandshake } from "./messages";
import { ByteWriter } from "./wire";

/** psk_key_exchange_modes values (§4.2.9). */
export const PSK_KE = 0;
export const PSK_DHE_KE = 1;

/** ecdsa_secp256r1_sha256, ecdsa_secp384r1_sha384, rsa_pss_rsae_sha256/384/512, ed25519 (§4.2.3). */
const SIGNATURE_SCHEMES = [0x0403, 0x0503, 0x0804, 0x0805, 0x0806, 0x0807];

export interface ClientHelloParams {
  random: Uint8Array;
  sessionId: Uint8Array;
  suites: readonly CipherSuite[];
  keyExchange: "psk-dhe" | "psk-only";
  /** supported_groups, in preference order (psk-dhe only). */
  groups: readonly TlsGroup[];
  /** The key shares sent (psk-dhe only): one, for the preferred or the HRR-selected group. */
  keyShares: readonly { group: TlsGroup; publicKey: Uint8Array }[];
  serverName?: string;
  /** Echoed from a HelloRetryRequest (§4.2.2). */
  cookie?: Uint8Array;
  identity: Uint8Array;
  /** Length of the binder, i.e. of the PSK's hash. */
  binderLength: number;
}

/**
 * Encodes the ClientHello handshake message. `computeBinder` receives the message truncated
 * before the binders list (length fields already final) and returns the binder.
 */
/** RFC 6066 §3: server_name carries a host name only, never an address literal. */
export function sendsServerName(serverName: string | undefined): serverName is string {
  return serverName !== undefined && isIP(serverName) === 0;
}

export function encodeClientHello(params: ClientHelloParams, computeBinder: (truncated: Uint8Array) => Uint8Array): Uint8Array {
  const extensions = new ByteWriter();
  const add = (type: number, body: Uint8Array): void => {
    extensions.u16(type).vector(2, body);
  };

  if (sendsServerName(params.serverName)) {
    const name = new ByteWriter().u8(0).vector(2, new TextEncoder().encode(params.serverName)).finish();
    add(EXTENSION.server_name, new ByteWriter().vector(2, name).finish());
  }
  add(EXTENSION.supported_versions, new ByteWriter().vector(1, u16s([TLS13])).finish());
  // Not needed for a PSK handshake (§9.2), but sent so that a server that does not accept the
  // PSK answers with a certificate handshake we can name, rather than a bare missing_extension.
  add(EXTENSION.signature_algorithms, new ByteWriter().vector(2, u16s(SIGNATURE_SCHEMES)).finish());
  if (params.keyExchange === "psk-dhe") {
    add(EXTENSION.supported_groups, new ByteWriter().vector(2, u16s(params.groups.map((g) => GROUP_CODE[g]))).finish());
    const shares = new ByteWriter();
    for (const share of params.keyShares) shares.u16(GROUP_CODE[share.group]).vector(2, share.publicKey);
    add(EXTENSION.key_share, new ByteWriter().vector(2, shares.finish()).finish());
  }
  if (params.cookie !== undefined) add(EXTENSION.cookie, new ByteWriter().vector(2, params.cookie).finish());
  const mode = params.keyExchange === "psk-dhe" ? PSK_DHE_KE : PSK_KE;
  add(EXTENSION.psk_key_exchange_modes, new ByteWriter().vector(1, Uint8Array.of(mode)).finish());

  // §4.2.11: one identity, obfuscated_ticket_age 0 for an external PSK.
  const identities = new ByteWriter().vector(2, params.identity).bytes(new Uint8Array(4)).finish();
  const placeholder = new ByteWriter().vector(1, new Uint8Array(params.binderLength)).finish();
  const binders = new ByteWriter().vector(2, placeholder).finish();
  add(EXTENSION.pre_shared_key, new ByteWriter().vector(2, identities).bytes(binders).finish());

  const body = new ByteWriter()
    .u16(LEGACY_VERSION)
    .bytes(params.random)
    .vector(1, params.sessionId)
    .vector(2, u16s(params.suites.map((suite) => suite.code)))
    .vector(1, Uint8Array.of(0)) // legacy_compression_methods: null only
    .vector(2, extensions.finish())
    .finish();
  const message = encodeHandshake(HANDSHAKE.client_hello, body);

  const truncatedLength = message.length - binders.length;
  const binder = computeBinder(message.subarray(0, truncatedLength));
  if (binder.length !== params.binderLength) throw new Error("binder length mismatch");
  message.set(binder, truncatedLength + 3); // after the u16 list length and the u8 binder length
  return message;
}

function u16s(values: readonly number[]): Uint8Array {
  const writer = new ByteWriter();
  for (const value of values) writer.u16(value);
  return writer.finish();
}
