/**
 * Certificates and private keys for upstream TLS: PEM or DER detected from the content,
 * PKCS#12 recognised and refused, everything normalised to PEM for the transport
 * (the private key as a Secret).
 */
import { createPrivateKey, X509Certificate, type KeyObject } from "node:crypto";
import { Secret } from "../common/secret";
import { fail } from "./errors";

export type DerKeyType = "pkcs8" | "pkcs1" | "sec1";

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----/g;
/** OID 1.2.840.113549.1.7.1 (PKCS#7 data), the first content of every PKCS#12 PFX. */
const PKCS7_DATA_OID = [0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x01];

function isPem(bytes: Uint8Array): boolean {
  return Buffer.from(bytes.subarray(0, 64)).toString("latin1").trimStart().startsWith("-----BEGIN");
}

/** PFX ::= SEQUENCE { version INTEGER (3), authSafe ContentInfo { data OID, ... } } (RFC 7292 §4). */
export function looksLikePkcs12(bytes: Uint8Array): boolean {
  if (bytes[0] !== 0x30) return false;
  const lengthBytes = bytes[1]! & 0x80 ? bytes[1]! & 0x7f : 0;
  let at = 2 + lengthBytes;
  if (bytes[at] !== 0x02 || bytes[at + 1] !== 0x01 || bytes[at + 2] !== 0x03) return false;
  at += 3;
  if (bytes[at] !== 0x30) return false;
  at += 2 + (bytes[at + 1]! & 0x80 ? bytes[at + 1]! & 0x7f : 0);
  return PKCS7_DATA_OID.every((byte, index) => bytes[at + index] === byte);
}

function refusePkcs12(bytes: Uint8Array, subject: string): void {
  if (looksLikePkcs12(bytes)) {
    fail(subject, "this is a PKCS#12 (.pfx/.p12) bundle, which is not accepted; export PEM or DER (e.g. openssl pkcs12 -in FILE -nodes)");
  }
}

/** The CERTIFICATE blocks of a PEM text, in order. */
export function splitPemCertificates(pem: string): string[] {
  return pem.match(PEM_CERTIFICATE) ?? [];
}

/** A distinguished name on one line ("CN=x, O=y"), for messages. */
export function oneLineName(name: string): string {
  return name.replaceAll("\n", ", ");
}

/** One or more certificates: a PEM bundle or a single DER certificate. */
export function parseCertificates(bytes: Uint8Array, subject: string): X509Certificate[] {
  refusePkcs12(bytes, subject);
  if (isPem(bytes)) {
    const blocks = splitPemCertificates(Buffer.from(bytes).toString("latin1"));
    if (blocks.length === 0) fail(subject, "PEM without a CERTIFICATE block");
    return blocks.map((block, index) => {
      try {
        return new X509Certificate(block);
      } catch {
        return fail(subject, `PEM certificate ${index + 1} does not parse`);
      }
    });
  }
  try {
    return [new X509Certificate(Buffer.from(bytes))];
  } catch {
    return fail(subject, "neither a PEM nor a DER X.509 certificate");
  }
}

function derKey(bytes: Uint8Array, type: DerKeyType): KeyObject | undefined {
  try {
    return createPrivateKey({ key: Buffer.from(bytes), format: "der", type });
  } catch {
    return undefined;
  }
}

/**
 * A private key in PEM, or DER as PKCS#8, PKCS#1 (RSA) or SEC1 (EC); `derTypes` narrows the
 * DER guesses when the format is known (YANG private-key-format).
 */
export function parsePrivateKey(bytes: Uint8Array, subject: string, derTypes: readonly DerKeyType[] = ["pkcs8", "pkcs1", "sec1"]): KeyObject {
  refusePkcs12(bytes, subject);
  if (isPem(bytes)) {
    try {
      return createPrivateKey(Buffer.from(bytes));
    } catch (error) {
      if ((error as { code?: unknown }).code === "ERR_MISSING_PASSPHRASE") {
        fail(subject, "the private key is encrypted; decrypt it first (openssl pkey -in FILE -out key.pem)");
      }
      return fail(subject, "PEM that is not a private key");
    }
  }
  for (const type of derTypes) {
    const key = derKey(bytes, type);
    if (key) return key;
  }
  return fail(subject, `neither a PEM nor a DER (${derTypes.join(", ")}) private key`);
}

/** A client identity ready for the transport: chain in PEM, key as a Secret PEM. */
export function clientIdentity(
  certificates: readonly X509Certificate[],
  key: KeyObject,
  keySubject: string,
): { clientCertificatePem: string; clientKeyPem: Secret } {
  const leaf = certificates[0];
  if (!leaf || !leaf.checkPrivateKey(key)) fail(keySubject, "does not match the client certificate");
  return {
    clientCertificatePem: certificates.map((certificate) => certificate.toString()).join(""),
    clientKeyPem: Secret.fromText(key.export({ format: "pem", type: "pkcs8" }) as string),
  };
}

