/**
 * Ephemeral key shares for psk_dhe_ke (RFC 8446 §4.2.8): secp256r1 and secp384r1 through
 * createECDH (node:crypto spells them prime256v1 and secp384r1), X25519 through KeyObjects.
 */
import { createECDH, createPublicKey, diffieHellman, generateKeyPairSync, type KeyObject } from "node:crypto";
import type { TlsGroup } from "../types";
import { ALERT, TlsFailure } from "./alerts";

/** NamedGroup code points (§4.2.7). */
export const GROUP_CODE: Record<TlsGroup, number> = { secp256r1: 23, secp384r1: 24, x25519: 29 };

export function groupByCode(code: number): TlsGroup | undefined {
  return (Object.keys(GROUP_CODE) as TlsGroup[]).find((group) => GROUP_CODE[group] === code);
}

export interface KeyShare {
  group: TlsGroup;
  /** The key_exchange bytes we send: an uncompressed point, or the 32-byte X25519 key. */
  publicKey: Uint8Array;
  /** The shared secret with the server's key_exchange; illegal_parameter if it is invalid. */
  agree(peer: Uint8Array): Uint8Array;
  /**
   * Forgets the private key once the handshake no longer needs it: an ECDH key is overwritten
   * in place by a fresh one, an X25519 KeyObject is released (BoringSSL clears freed key memory).
   */
  dispose(): void;
}

const EC_CURVE = { secp256r1: { name: "prime256v1", pointLength: 65 }, secp384r1: { name: "secp384r1", pointLength: 97 } };

export function generateKeyShare(group: TlsGroup): KeyShare {
  return group === "x25519" ? x25519Share() : ecdhShare(group);
}

function ecdhShare(group: "secp256r1" | "secp384r1"): KeyShare {
  const curve = EC_CURVE[group];
  const ecdh = createECDH(curve.name);
  const publicKey = new Uint8Array(ecdh.generateKeys());
  return {
    group,
    publicKey,
    agree(peer) {
      // §4.2.8.2: only the uncompressed form (0x04 || X || Y) is allowed.
      if (peer.length !== curve.pointLength || peer[0] !== 4) throw badShare(group);
      try {
        return new Uint8Array(ecdh.computeSecret(peer));
      } catch {
        throw badShare(group);
      }
    },
    dispose() {
      ecdh.generateKeys();
    },
  };
}

function x25519Share(): KeyShare {
  const pair = generateKeyPairSync("x25519");
  let privateKey: KeyObject | undefined = pair.privateKey;
  const publicKey = pair.publicKey;
  return {
    group: "x25519",
    publicKey: rawX25519(publicKey),
    agree(peer) {
      if (peer.length !== 32 || !privateKey) throw badShare("x25519");
      let secret: Uint8Array;
      try {
        const peerKey = createPublicKey({
          key: { kty: "OKP", crv: "X25519", x: Buffer.from(peer).toString("base64url") },
          format: "jwk",
        });
        secret = new Uint8Array(diffieHellman({ privateKey, publicKey: peerKey }));
      } catch {
        throw badShare("x25519");
      }
      // §7.4.2: an all-zero X25519 output means a small-order point.
      if (secret.every((byte) => byte === 0)) throw badShare("x25519");
      return secret;
    },
    dispose() {
      privateKey = undefined;
    },
  };
}

function rawX25519(key: KeyObject): Uint8Array {
  const x = key.export({ format: "jwk" }).x;
  if (typeof x !== "string") throw new Error("X25519 public key export failed");
  return new Uint8Array(Buffer.from(x, "base64url"));
}

function badShare(group: TlsGroup): TlsFailure {
  return new TlsFailure(ALERT.illegal_parameter, `server sent an invalid ${group} key share`);
}
