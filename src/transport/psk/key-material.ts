/**
 * Operator-supplied PSK material. The rule for --psk-key (and the YANG key):
 *   - `hex:<hex digits>`     the bytes written in hex (even count, no separators);
 *   - `base64:<base64>`      the bytes written in base64 (standard or URL-safe alphabet);
 *   - anything else          the UTF-8 bytes of the text as given.
 * A key must be at least 16 octets (RFC 9887 §3.5; stunnel enforces the same floor).
 * Identities are 1..65535 octets (RFC 8446 §4.2.11). Errors never quote the key.
 */
export const MIN_PSK_KEY_OCTETS = 16;
export const MAX_PSK_IDENTITY_OCTETS = 65_535;

export class PskMaterialError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "PskMaterialError";
  }
}

export function parsePskKey(text: string): Uint8Array {
  const key = decodeKey(text);
  if (key.length < MIN_PSK_KEY_OCTETS) {
    throw new PskMaterialError(`PSK key is ${key.length} octets; at least ${MIN_PSK_KEY_OCTETS} are required (RFC 9887 §3.5)`);
  }
  return key;
}

/** Whether a key is given as plain text rather than `hex:`/`base64:` bytes. */
export function isTextPskKey(text: string): boolean {
  return !text.startsWith("hex:") && !text.startsWith("base64:");
}

/** RFC 9257 §6: an external PSK needs enough entropy; a typed passphrase rarely has it. */
export function textPskKeyWarning(origin: string): string {
  return `${origin}: the PSK is plain text, which rarely has enough entropy (RFC 9257 §6); prefer a random key written as hex:… or base64:… (e.g. \`openssl rand -hex 32\`)`;
}

/** Checks an identity's length; returns it unchanged. */
export function checkPskIdentity(identity: Uint8Array): Uint8Array {
  if (identity.length < 1 || identity.length > MAX_PSK_IDENTITY_OCTETS) {
    throw new PskMaterialError(`PSK identity is ${identity.length} octets; it must be 1 to ${MAX_PSK_IDENTITY_OCTETS}`);
  }
  return identity;
}

function decodeKey(text: string): Uint8Array {
  if (text.startsWith("hex:")) {
    const digits = text.slice(4);
    if (digits.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(digits)) {
      throw new PskMaterialError("PSK key after 'hex:' must be an even number of hex digits");
    }
    return new Uint8Array(Buffer.from(digits, "hex"));
  }
  if (text.startsWith("base64:")) {
    const encoded = text.slice(7);
    if (!/^[A-Za-z0-9+/_-]*={0,2}$/.test(encoded) || encoded.replace(/=+$/, "").length % 4 === 1) {
      throw new PskMaterialError("PSK key after 'base64:' is not valid base64");
    }
    return new Uint8Array(Buffer.from(encoded, encoded.includes("-") || encoded.includes("_") ? "base64url" : "base64"));
  }
  return new TextEncoder().encode(text);
}
