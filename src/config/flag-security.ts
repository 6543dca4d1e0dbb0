/**
 * How --server-addr servers are protected, from the TLS, certificate and PSK flags:
 * plain TCP, TLS (server authentication, optionally mTLS) or TLS 1.3 external PSK.
 */
import type { TlsGroup, TransportSecurity } from "../transport/types";
import { checkPskIdentity, isTextPskKey, parsePskKey, textPskKeyWarning } from "../transport/psk/key-material";
import { Secret } from "../common/secret";
import { SECRET_ENV, type FlagName } from "./definition";
import { fail, parsedOr } from "./errors";
import { readInputFile, sharedFileWarning } from "./files";
import { isHostName } from "./address";
import { resolveSecretText } from "./secrets";
import type { Flags } from "./scanned";
import { checked, groupList, pskKeyExchange } from "./values";
import { clientIdentity, parseCertificates, parsePrivateKey } from "./tls-material";

const TLS_ONLY: FlagName[] = [
  "client-certificate",
  "client-key",
  "ca-certificate",
  "tls-server-name",
  "insecure-disable-certificate-verification",
  "psk-identity",
  "psk-key",
  "psk-key-file",
  "psk-key-exchange",
  "psk-key-exchange-groups",
];

/** Flags that configure upstream security; the YANG document replaces them under --config. */
export const SECURITY_FLAGS: FlagName[] = ["shared-secret", "shared-secret-file", "use-tls", ...TLS_ONLY];

/** PSK-DHE settings, shared by the flags and the YANG loader (the YANG model has no such leaves). */
export function pskExchangeFromFlags(flags: Flags): { keyExchange: "psk-dhe" | "psk-only"; groups: readonly TlsGroup[] } {
  const keyExchange = checked(pskKeyExchange, "--psk-key-exchange", flags.value("psk-key-exchange"));
  if (keyExchange === "psk-only" && flags.has("psk-key-exchange-groups")) {
    fail("--psk-key-exchange-groups", "cannot be combined with --psk-key-exchange psk-only (psk_ke sends no key share)");
  }
  const groups = keyExchange === "psk-only" ? [] : checked(groupList, "--psk-key-exchange-groups", flags.value("psk-key-exchange-groups"));
  return { keyExchange, groups };
}

async function pskSecurity(flags: Flags, env: Record<string, string | undefined>, warnings: string[], serverName: string | undefined): Promise<TransportSecurity> {
  for (const name of ["client-certificate", "client-key", "ca-certificate", "insecure-disable-certificate-verification"] as const) {
    if (flags.has(name)) fail(`--${name}`, "cannot be combined with a TLS PSK (--psk-identity): the PSK authenticates both ends");
  }
  const identity = flags.given("psk-identity");
  if (identity === undefined) fail("--psk-key", "requires --psk-identity");
  const keyText = await resolveSecretText(
    { flag: "psk-key", fileFlag: "psk-key-file", envName: SECRET_ENV.pskKey, flagValue: flags.given("psk-key"), fileValue: flags.given("psk-key-file"), env },
    warnings,
  );
  // TACACSRS_PSK_KEY alone, without --psk-identity, does not turn PSK on (it may be set host-wide).
  if (!keyText) fail("--psk-identity", `requires --psk-key, --psk-key-file or ${SECRET_ENV.pskKey}`);
  const key = parsedOr(keyText.origin, () => parsePskKey(keyText.text));
  if (isTextPskKey(keyText.text)) warnings.push(textPskKeyWarning(keyText.origin));
  const identityBytes = parsedOr("--psk-identity", () => checkPskIdentity(new TextEncoder().encode(identity)));
  return { kind: "psk", identity: identityBytes, key: new Secret(key), ...pskExchangeFromFlags(flags), serverName };
}

async function certificateSecurity(flags: Flags, warnings: string[], serverName: string | undefined): Promise<TransportSecurity> {
  const verifyServer = !flags.on("insecure-disable-certificate-verification");
  if (!verifyServer) warnings.push("--insecure-disable-certificate-verification: the upstream servers are not authenticated; anyone on the path can impersonate them");
  const caPath = flags.given("ca-certificate");
  const caPem = caPath === undefined ? [] : parseCertificates((await readInputFile(caPath, "--ca-certificate")).bytes, `--ca-certificate ${caPath}`).map((certificate) => certificate.toString());
  const certificatePath = flags.given("client-certificate");
  const keyPath = flags.given("client-key");
  if ((certificatePath === undefined) !== (keyPath === undefined)) {
    fail(certificatePath === undefined ? "--client-key" : "--client-certificate", "give --client-certificate and --client-key together");
  }
  const security: TransportSecurity = { kind: "tls", caPem, useSystemCa: true, verifyServer, serverName };
  if (certificatePath === undefined || keyPath === undefined) return security;
  const certificates = parseCertificates((await readInputFile(certificatePath, "--client-certificate")).bytes, `--client-certificate ${certificatePath}`);
  const keyFile = await readInputFile(keyPath, "--client-key");
  if (keyFile.shared) warnings.push(sharedFileWarning("--client-key", keyPath));
  const key = parsePrivateKey(keyFile.bytes, `--client-key ${keyPath}`);
  return { ...security, ...clientIdentity(certificates, key, `--client-key ${keyPath}`) };
}

/** The security of every --server-addr server. */
export async function securityFromFlags(flags: Flags, env: Record<string, string | undefined>, warnings: string[]): Promise<TransportSecurity> {
  if (!flags.on("use-tls")) {
    const stray = TLS_ONLY.find((name) => flags.has(name));
    if (stray) fail(`--${stray}`, "requires --use-tls");
    return { kind: "tcp" };
  }
  const serverName = flags.given("tls-server-name");
  if (serverName !== undefined && !isHostName(serverName)) fail("--tls-server-name", `${JSON.stringify(serverName)} is not a DNS host name`);
  if (flags.has("psk-identity") || flags.has("psk-key") || flags.has("psk-key-file")) return pskSecurity(flags, env, warnings, serverName);
  for (const name of ["psk-key-exchange", "psk-key-exchange-groups"] as const) {
    if (flags.has(name)) fail(`--${name}`, "requires --psk-identity and --psk-key");
  }
  return certificateSecurity(flags, warnings, serverName);
}
