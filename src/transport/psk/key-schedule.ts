/**
 * The TLS 1.3 key schedule (RFC 8446 §7.1) for an external PSK, on node:crypto HMAC:
 * HKDF-Extract, HKDF-Expand-Label, Derive-Secret, binder and Finished MACs, traffic keys and
 * the KeyUpdate ratchet. Pure functions of their inputs.
 */
import { createHash, createHmac } from "node:crypto";
import type { CipherSuite, HashName } from "./cipher-suites";
import { ByteWriter, concatBytes } from "./wire";

const HASH_LENGTH: Record<HashName, number> = { sha256: 32, sha384: 48 };

export function hashLength(hash: HashName): number {
  return HASH_LENGTH[hash];
}

export function digest(hash: HashName, ...parts: readonly Uint8Array[]): Uint8Array {
  const h = createHash(hash);
  for (const part of parts) h.update(part);
  return new Uint8Array(h.digest());
}

export function hmac(hash: HashName, key: Uint8Array, data: Uint8Array): Uint8Array {
  return new Uint8Array(createHmac(hash, key).update(data).digest());
}

/** RFC 5869 §2.2; an absent salt is Hash.length zero bytes. */
export function hkdfExtract(hash: HashName, salt: Uint8Array | undefined, ikm: Uint8Array): Uint8Array {
  return hmac(hash, salt ?? new Uint8Array(hashLength(hash)), ikm);
}

/** RFC 5869 §2.3. */
export function hkdfExpand(hash: HashName, prk: Uint8Array, info: Uint8Array, length: number): Uint8Array {
  const blocks: Uint8Array[] = [];
  let previous: Uint8Array = new Uint8Array(0);
  for (let counter = 1, produced = 0; produced < length; counter++) {
    previous = hmac(hash, prk, concatBytes([previous, info, Uint8Array.of(counter)]));
    blocks.push(previous);
    produced += previous.length;
  }
  return concatBytes(blocks).subarray(0, length);
}

/** RFC 8446 §7.1: HKDF-Expand-Label(Secret, Label, Context, Length) with the "tls13 " prefix. */
export function hkdfExpandLabel(
  hash: HashName,
  secret: Uint8Array,
  label: string,
  context: Uint8Array,
  length: number,
): Uint8Array {
  const info = new ByteWriter()
    .u16(length)
    .vector(1, new TextEncoder().encode(`tls13 ${label}`))
    .vector(1, context)
    .finish();
  return hkdfExpand(hash, secret, info, length);
}

/** RFC 8446 §7.1: Derive-Secret(Secret, Label, Messages), given Transcript-Hash(Messages). */
export function deriveSecret(hash: HashName, secret: Uint8Array, label: string, transcriptHash: Uint8Array): Uint8Array {
  return hkdfExpandLabel(hash, secret, label, transcriptHash, hashLength(hash));
}

/** Early Secret = HKDF-Extract(0, PSK). */
export function earlySecret(hash: HashName, psk: Uint8Array): Uint8Array {
  return hkdfExtract(hash, undefined, psk);
}

/** binder_key for an external PSK: Derive-Secret(Early Secret, "ext binder", "") (§7.1). */
export function externalBinderKey(hash: HashName, early: Uint8Array): Uint8Array {
  return deriveSecret(hash, early, "ext binder", digest(hash));
}

/**
 * The Finished computation (§4.4.4), also used for PSK binders (§4.2.11.2):
 * HMAC(HKDF-Expand-Label(baseKey, "finished", "", Hash.length), transcriptHash).
 */
export function finishedMac(hash: HashName, baseKey: Uint8Array, transcriptHash: Uint8Array): Uint8Array {
  const finishedKey = hkdfExpandLabel(hash, baseKey, "finished", new Uint8Array(0), hashLength(hash));
  return hmac(hash, finishedKey, transcriptHash);
}

/** The next stage's salt: Derive-Secret(secret, "derived", ""). */
function derivedSalt(hash: HashName, secret: Uint8Array): Uint8Array {
  return deriveSecret(hash, secret, "derived", digest(hash));
}

/** Handshake Secret; `sharedSecret` is the (EC)DHE output, or undefined for psk_ke (all zeros). */
export function handshakeSecret(hash: HashName, early: Uint8Array, sharedSecret: Uint8Array | undefined): Uint8Array {
  return hkdfExtract(hash, derivedSalt(hash, early), sharedSecret ?? new Uint8Array(hashLength(hash)));
}

export function masterSecret(hash: HashName, handshake: Uint8Array): Uint8Array {
  return hkdfExtract(hash, derivedSalt(hash, handshake), new Uint8Array(hashLength(hash)));
}

export interface TrafficKeys {
  key: Uint8Array;
  iv: Uint8Array;
}

/** §7.3: write key and IV from a traffic secret. */
export function trafficKeys(suite: CipherSuite, secret: Uint8Array): TrafficKeys {
  const empty = new Uint8Array(0);
  return {
    key: hkdfExpandLabel(suite.hash, secret, "key", empty, suite.keyLength),
    iv: hkdfExpandLabel(suite.hash, secret, "iv", empty, 12),
  };
}

/** §7.2: application_traffic_secret_N+1 after a KeyUpdate. */
export function nextTrafficSecret(hash: HashName, secret: Uint8Array): Uint8Array {
  return hkdfExpandLabel(hash, secret, "traffic upd", new Uint8Array(0), hashLength(hash));
}
