/**
 * The TLS 1.3 cipher suites we offer (RFC 8446 §B.4), in preference order. AES-128-GCM-SHA256
 * comes first: OpenSSL binds external PSKs to SHA-256. ChaCha20 is missing from Bun's node:crypto.
 */
export type HashName = "sha256" | "sha384";

export interface CipherSuite {
  code: number;
  name: string;
  hash: HashName;
  /** Output length of `hash`, in bytes. */
  hashLength: number;
  /** node:crypto cipher name. */
  aead: "aes-128-gcm" | "aes-256-gcm";
  keyLength: number;
}

export const TLS_AES_128_GCM_SHA256: CipherSuite = {
  code: 0x1301,
  name: "TLS_AES_128_GCM_SHA256",
  hash: "sha256",
  hashLength: 32,
  aead: "aes-128-gcm",
  keyLength: 16,
};

export const TLS_AES_256_GCM_SHA384: CipherSuite = {
  code: 0x1302,
  name: "TLS_AES_256_GCM_SHA384",
  hash: "sha384",
  hashLength: 48,
  aead: "aes-256-gcm",
  keyLength: 32,
};

export const OFFERED_SUITES: readonly CipherSuite[] = [TLS_AES_128_GCM_SHA256, TLS_AES_256_GCM_SHA384];

/**
 * The hash an external PSK is bound to (RFC 8446 §4.2.11: each PSK has one hash). OpenSSL and
 * GnuTLS bind external PSKs to SHA-256, so only SHA-256 suites can complete a PSK handshake.
 */
export const PSK_HASH: HashName = "sha256";

export function suiteByCode(code: number): CipherSuite | undefined {
  return OFFERED_SUITES.find((suite) => suite.code === code);
}
