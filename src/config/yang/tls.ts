/**
 * The TLS case of the RFC 9950 `security` choice: client identity (inline certificate + key
 * or TLS 1.3 external PSK), server authentication (inline CA certificates or EPSK) and
 * hello-params, with the top-level credential lists they may reference.
 * TLS material in YANG is base64 DER only.
 */
import * as v from "valibot";
import { Secret } from "../../common/secret";
import { checkPskIdentity, parsePskKey } from "../../transport/psk/key-material";
import { fail, parsedOr } from "../errors";
import { clientIdentity, parseCertificates, parsePrivateKey, type DerKeyType } from "../tls-material";
import { yangBase64, yangText } from "../values";
import type { YangObject } from "./node";

export type ClientIdentity =
  | { kind: "certificate"; clientCertificatePem: string; clientKeyPem: Secret }
  | { kind: "epsk"; identity: Uint8Array; key: Secret };

export interface ServerAuthentication {
  caPem: string[];
  epsk: boolean;
}

export const CLIENT_IDENTITY_CHOICES = ["certificate", "raw-private-key", "tls13-epsk"];
export const SERVER_AUTHENTICATION_CHOICES = ["ca-certs", "ee-certs", "raw-public-keys", "tls13-epsks"];
const INLINE_ONLY = "only inline-definition is supported (no central keystore or truststore)";

/** ietf-crypto-types private-key-format identities, with or without the module prefix. */
const KEY_FORMATS: Record<string, DerKeyType> = {
  "rsa-private-key-format": "pkcs1",
  "ec-private-key-format": "sec1",
  "one-asymmetric-key-format": "pkcs8",
};

function identityName(value: string): string {
  return value.slice(value.indexOf(":") + 1);
}

/** Base64 DER, refusing PEM text that was base64-encoded once more. */
function derLeaf(node: YangObject, name: string): Uint8Array {
  const bytes = node.required(name, yangBase64);
  if (Buffer.from(bytes.subarray(0, 11)).toString("latin1") === "-----BEGIN ") fail(node.pathOf(name), "expected base64 DER, found PEM");
  return bytes;
}

function certificateIdentity(certificate: YangObject): ClientIdentity {
  certificate.refuse("central-keystore-reference", INLINE_ONLY);
  const inline = certificate.child("inline-definition", ["public-key-format", "public-key", "private-key-format", "cleartext-private-key", "hidden-private-key", "encrypted-private-key", "cert-data"]);
  if (!inline) fail(certificate.pathOf("inline-definition"), "missing (mandatory)");
  inline.refuse("hidden-private-key", "hidden private keys are not supported; use cleartext-private-key");
  inline.refuse("encrypted-private-key", "encrypted private keys are not supported; use cleartext-private-key");
  const format = inline.leaf("private-key-format", yangText);
  const derType = format === undefined ? undefined : KEY_FORMATS[identityName(format)];
  if (format !== undefined && derType === undefined) fail(inline.pathOf("private-key-format"), `expected one of ${Object.keys(KEY_FORMATS).join(", ")}`);
  const certificates = parseCertificates(derLeaf(inline, "cert-data"), inline.pathOf("cert-data"));
  const keyPath = inline.pathOf("cleartext-private-key");
  const key = parsePrivateKey(derLeaf(inline, "cleartext-private-key"), keyPath, derType ? [derType] : undefined);
  return { kind: "certificate", ...clientIdentity(certificates, key, keyPath) };
}

function epskIdentity(epsk: YangObject): ClientIdentity {
  epsk.refuse("central-keystore-reference", INLINE_ONLY);
  for (const importer of ["context", "target-protocol", "target-kdf"]) epsk.refuse(importer, "PSK importers (RFC 9258) are not supported");
  const hash = epsk.leaf("hash", yangText);
  if (hash !== undefined && identityName(hash) !== "sha-256") fail(epsk.pathOf("hash"), "only sha-256 is supported");
  const inline = epsk.child("inline-definition", ["key-format", "cleartext-symmetric-key", "hidden-symmetric-key", "encrypted-symmetric-key"]);
  if (!inline) fail(epsk.pathOf("inline-definition"), "missing (mandatory)");
  inline.refuse("hidden-symmetric-key", "hidden keys are not supported; use cleartext-symmetric-key");
  inline.refuse("encrypted-symmetric-key", "encrypted keys are not supported; use cleartext-symmetric-key");
  const keyPath = inline.pathOf("cleartext-symmetric-key");
  const keyText = inline.required("cleartext-symmetric-key", yangText);
  // The same rule as --psk-key, so YANG and flags accept exactly the same keys.
  const key = parsedOr(keyPath, () => parsePskKey(`base64:${keyText}`));
  const identityText = epsk.required("external-identity", yangText);
  const identity = parsedOr(epsk.pathOf("external-identity"), () => checkPskIdentity(new TextEncoder().encode(identityText)));
  return { kind: "epsk", identity, key: new Secret(key) };
}

/** The auth-type choice of a client identity (inline in a server, or in client-credentials). */
export function parseClientIdentity(node: YangObject): ClientIdentity {
  node.refuse("raw-private-key", "raw public key identities are not supported; use a certificate or tls13-epsk");
  const certificate = node.child("certificate", ["inline-definition", "central-keystore-reference"]);
  const epsk = node.child("tls13-epsk", ["inline-definition", "central-keystore-reference", "external-identity", "hash", "context", "target-protocol", "target-kdf"]);
  if (certificate && epsk) fail(node.path, "choose certificate or tls13-epsk, not both");
  if (certificate) return certificateIdentity(certificate);
  if (epsk) return epskIdentity(epsk);
  return fail(node.path, "expected a certificate or tls13-epsk client identity");
}

/** Server authentication (inline in a server, or in server-credentials). */
export function parseServerAuthentication(node: YangObject): ServerAuthentication {
  node.refuse("ee-certs", "pinned end-entity certificates are not supported; use ca-certs");
  node.refuse("raw-public-keys", "raw public keys are not supported; use ca-certs");
  const caCerts = node.child("ca-certs", ["inline-definition", "central-truststore-reference"]);
  const caPem: string[] = [];
  if (caCerts) {
    caCerts.refuse("central-truststore-reference", INLINE_ONLY);
    const inline = caCerts.child("inline-definition", ["certificate"]);
    if (!inline) fail(caCerts.pathOf("inline-definition"), "missing (mandatory)");
    for (const entry of inline.list("certificate", "name", ["cert-data"])) {
      for (const certificate of parseCertificates(derLeaf(entry, "cert-data"), entry.pathOf("cert-data"))) caPem.push(certificate.toString());
    }
    if (caPem.length === 0) fail(inline.pathOf("certificate"), "no CA certificate");
  }
  // `tls13-epsks` is a YANG `empty` leaf: RFC 7951 §6.9 writes it as [null].
  const epsk = node.leaf("tls13-epsks", v.tuple([v.null()], "expected [null] (an empty leaf)")) !== undefined;
  return { caPem, epsk };
}

/** hello-params: only TLS 1.3 may be asked for (RFC 9887 §3); cipher suites are the transport's. */
export function checkHelloParams(node: YangObject): void {
  const versions = node.child("tls-versions", ["min", "max"]);
  for (const bound of ["min", "max"]) {
    const version = versions?.leaf(bound, yangText);
    if (version !== undefined && identityName(version) !== "tls13") fail(versions!.pathOf(bound), "only TLS 1.3 (tls13) is supported");
  }
  const suites = node.child("cipher-suites", ["cipher-suite"]);
  if (suites?.has("cipher-suite")) node.warnings.push(`${suites.pathOf("cipher-suite")}: not configurable, the TLS 1.3 AES-GCM suites are offered; ignored`);
}
