/**
 * The certificates the configuration names (each TLS server's trust anchors and the client
 * certificate chain) and their dates: for expiry warnings at start, on SIGHUP and daily, for
 * --check-config, and for the tacacsrs_certificate_not_after_timestamp_seconds gauge.
 */
import { X509Certificate } from "node:crypto";
import type { UpstreamServer } from "../upstream/types";
import { oneLineName, splitPemCertificates } from "./tls-material";

const DAY_MS = 86_400_000;

export interface CertificateInfo {
  /** The configured server name (a metric label). */
  server: string;
  role: "client" | "ca";
  subject: string;
  fingerprint: string;
  notBeforeMs: number;
  notAfterMs: number;
  /** As the certificate says, for messages ("Jan  1 00:00:00 2030 GMT"). */
  validFrom: string;
  validTo: string;
}

export interface CertificateFinding {
  severity: "error" | "warning";
  message: string;
}

const ROLE_NAME = { client: "client certificate", ca: "CA certificate" } as const;

export function certificateInventory(servers: readonly UpstreamServer[]): CertificateInfo[] {
  const inventory: CertificateInfo[] = [];
  for (const server of servers) {
    if (server.security.kind !== "tls") continue;
    const pems: [CertificateInfo["role"], string][] = [
      ...server.security.caPem.map((pem): [CertificateInfo["role"], string] => ["ca", pem]),
      ...splitPemCertificates(server.security.clientCertificatePem ?? "").map((pem): [CertificateInfo["role"], string] => ["client", pem]),
    ];
    for (const [role, pem] of pems) {
      const certificate = new X509Certificate(pem);
      inventory.push({
        server: server.name,
        role,
        subject: oneLineName(certificate.subject),
        fingerprint: certificate.fingerprint256,
        notBeforeMs: Date.parse(certificate.validFrom),
        notAfterMs: Date.parse(certificate.validTo),
        validFrom: certificate.validFrom,
        validTo: certificate.validTo,
      });
    }
  }
  return inventory;
}

const named = (c: CertificateInfo) => `server '${c.server}': ${ROLE_NAME[c.role]} ${c.subject}`;

/**
 * What to tell the operator at `now`, once per certificate (the first server naming it): expired
 * or not yet valid (every handshake fails: an error), or expiring within `warningDays` (a warning).
 */
export function certificateFindings(inventory: readonly CertificateInfo[], now: number, warningDays: number): CertificateFinding[] {
  const seen = new Set<string>();
  const findings: CertificateFinding[] = [];
  for (const certificate of inventory) {
    if (seen.has(certificate.fingerprint)) continue;
    seen.add(certificate.fingerprint);
    if (now > certificate.notAfterMs) findings.push({ severity: "error", message: `${named(certificate)} expired on ${certificate.validTo}` });
    else if (now < certificate.notBeforeMs) findings.push({ severity: "error", message: `${named(certificate)} not valid before ${certificate.validFrom}` });
    else if (certificate.notAfterMs - now < warningDays * DAY_MS) {
      const days = Math.floor((certificate.notAfterMs - now) / DAY_MS);
      findings.push({ severity: "warning", message: `${named(certificate)} expires on ${certificate.validTo}, in ${days} day${days === 1 ? "" : "s"}` });
    }
  }
  return findings;
}

/** One line per certificate for --check-config: where it is used and until when. */
export function expiryLines(inventory: readonly CertificateInfo[]): string[] {
  return inventory.map((c) => `certificate: ${named(c)} valid until ${new Date(c.notAfterMs).toISOString()}`);
}
