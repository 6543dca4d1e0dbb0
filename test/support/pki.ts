/**
 * A test PKI made once per test process (keys with node:crypto, certificates with one openssl
 * run each, in parallel), in a temp dir removed at exit:
 * a CA, server certificates (good, from an untrusted CA, expired, wrong name), client
 * certificates (P-256, RSA, from an untrusted CA), each in PEM and DER.
 *
 *   const pki = await testPki();
 *   pki.server.certPem, pki.server.keyPath, pki.clientRsa.keyDer, pki.ca.certPath ...
 */
import { createPrivateKey, generateKeyPairSync, X509Certificate, type KeyObject } from "node:crypto";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface Material {
  certPem: string;
  keyPem: string;
  certPath: string;
  keyPath: string;
  certDer: Uint8Array;
  /** PKCS#8 DER. */
  keyDer: Uint8Array;
  /** Traditional DER: PKCS#1 for RSA, SEC1 for EC. */
  keyDerTraditional: Uint8Array;
  certDerPath: string;
  keyDerPath: string;
}

export interface Pki {
  dir: string;
  /** The trusted CA (P-256). */
  ca: Material;
  /** A CA nobody trusts. */
  untrustedCa: Material;
  /** CN=localhost, SAN DNS:localhost, IP:127.0.0.1, IP:::1; signed by `ca`. */
  server: Material;
  /** Same names, signed by `untrustedCa`. */
  untrustedServer: Material;
  /** Same names, signed by `ca`, valid only in January 2020. */
  expiredServer: Material;
  /** SAN DNS:wrong.example only; signed by `ca`. */
  wrongNameServer: Material;
  /** Client certificate, P-256 key, signed by `ca`. */
  clientEc: Material;
  /** Client certificate, RSA 2048 key, signed by `ca`. */
  clientRsa: Material;
  /** Client certificate signed by `untrustedCa`. */
  untrustedClient: Material;
}

let cached: Promise<Pki> | undefined;

const PKI_PREFIX = "agentd-pki-";

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Removes the PKI directories of test processes that have ended. */
function removeAbandonedPkis(): void {
  for (const name of readdirSync(tmpdir())) {
    const pid = Number(/^agentd-pki-(\d+)-/.exec(name)?.[1]);
    if (pid && !processAlive(pid)) rmSync(join(tmpdir(), name), { recursive: true, force: true });
  }
}

export function testPki(): Promise<Pki> {
  cached ??= generate();
  return cached;
}

/** Keys in process, then one openssl run per certificate, all certificates of a level in parallel. */
async function generate(): Promise<Pki> {
  removeAbandonedPkis();
  const dir = mkdtempSync(join(tmpdir(), `${PKI_PREFIX}${process.pid}-`));
  // bun test fires no "exit" event: directories it leaves are swept by the next run (above).
  process.on("exit", () => rmSync(dir, { recursive: true, force: true }));
  // A config without default extensions: every extension is given explicitly.
  writeFileSync(join(dir, "req.cnf"), "[req]\ndistinguished_name = dn\n[dn]\n");
  const [ca, untrustedCa] = await Promise.all([
    selfSignedCa(dir, "ca", "agentd test CA"),
    selfSignedCa(dir, "untrusted-ca", "agentd untrusted CA"),
  ]);
  const client = (cn: string) => ({ cn, ext: ["extendedKeyUsage=clientAuth"] });
  const [server, untrustedServer, expiredServer, wrongNameServer, clientEc, clientRsa, untrustedClient] = await Promise.all([
    issue(dir, "server", ca, { cn: "localhost", ext: SERVER_EXT }),
    issue(dir, "untrusted-server", untrustedCa, { cn: "localhost", ext: SERVER_EXT }),
    issue(dir, "expired-server", ca, { cn: "localhost", ext: SERVER_EXT, expired: true }),
    issue(dir, "wrong-name-server", ca, { cn: "wrong.example", ext: ["subjectAltName=DNS:wrong.example", "extendedKeyUsage=serverAuth"] }),
    issue(dir, "client-ec", ca, client("agentd-client-ec")),
    issue(dir, "client-rsa", ca, { ...client("agentd-client-rsa"), rsa: true }),
    issue(dir, "untrusted-client", untrustedCa, client("agentd-untrusted-client")),
  ]);
  return { dir, ca, untrustedCa, server, untrustedServer, expiredServer, wrongNameServer, clientEc, clientRsa, untrustedClient };
}

const SERVER_EXT = ["subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1", "extendedKeyUsage=serverAuth"];
const LEAF_EXT = ["basicConstraints=critical,CA:FALSE", "keyUsage=critical,digitalSignature,keyEncipherment"];

async function openssl(dir: string, ...args: string[]): Promise<void> {
  const run = Bun.spawn(["openssl", ...args], { cwd: dir, stdin: "ignore", stdout: "ignore", stderr: "pipe" });
  const [exitCode, stderr] = await Promise.all([run.exited, new Response(run.stderr).text()]);
  if (exitCode !== 0) throw new Error(`openssl ${args.join(" ")} failed:\n${stderr}`);
}

function newKey(dir: string, name: string, rsa = false): void {
  const { privateKey } = rsa
    ? generateKeyPairSync("rsa", { modulusLength: 2048 })
    : generateKeyPairSync("ec", { namedCurve: "P-256" });
  writeFileSync(join(dir, `${name}.key.pem`), privateKey.export({ format: "pem", type: "pkcs8" }), { mode: 0o600 });
}

function addext(extensions: readonly string[]): string[] {
  return extensions.flatMap((extension) => ["-addext", extension]);
}

async function selfSignedCa(dir: string, name: string, cn: string): Promise<Material> {
  newKey(dir, name);
  await openssl(dir, "req", "-config", "req.cnf", "-x509", "-new", "-key", `${name}.key.pem`, "-subj", `/CN=${cn}`,
    "-days", "365", "-set_serial", serial(),
    ...addext(["basicConstraints=critical,CA:TRUE", "keyUsage=critical,keyCertSign,cRLSign"]), "-out", `${name}.pem`);
  return material(dir, name);
}

async function issue(
  dir: string,
  name: string,
  issuer: Material,
  spec: { cn: string; ext: readonly string[]; rsa?: boolean; expired?: boolean },
): Promise<Material> {
  newKey(dir, name, spec.rsa);
  const request = ["-config", "req.cnf", "-new", "-key", `${name}.key.pem`, "-subj", `/CN=${spec.cn}`, ...addext([...LEAF_EXT, ...spec.ext])];
  if (spec.expired) {
    await openssl(dir, "req", ...request, "-out", `${name}.csr`);
    await signExpired(dir, name, issuer);
  } else {
    await openssl(dir, "req", ...request, "-CA", issuer.certPath, "-CAkey", issuer.keyPath, "-set_serial", serial(),
      "-days", "365", "-out", `${name}.pem`);
  }
  return material(dir, name);
}

/** A random positive serial, so parallel signing needs no shared serial file. */
function serial(): string {
  return `0x${Buffer.from(crypto.getRandomValues(new Uint8Array(12))).toString("hex").replace(/^./, "1")}`;
}

/** `openssl req`/`x509` cannot backdate; `openssl ca` can, with a throwaway database. */
function signExpired(dir: string, name: string, issuer: Material): Promise<void> {
  const db = join(dir, `${name}-db`);
  writeFileSync(`${db}.index`, "");
  writeFileSync(`${db}.serial`, "1000\n");
  writeFileSync(
    `${db}.cnf`,
    [
      "[ca]", "default_ca = d",
      "[d]", `database = ${db}.index`, `new_certs_dir = ${dir}`, `serial = ${db}.serial`,
      "default_md = sha256", "policy = p", "copy_extensions = copy", "unique_subject = no",
      "[p]", "commonName = supplied",
    ].join("\n"),
  );
  return openssl(dir, "ca", "-batch", "-notext", "-config", `${db}.cnf`, "-cert", issuer.certPath, "-keyfile", issuer.keyPath,
    "-in", `${name}.csr`, "-startdate", "20200101000000Z", "-enddate", "20200201000000Z", "-out", `${name}.pem`);
}

/** Reads the PEM files and derives the DER forms in process. */
function material(dir: string, name: string): Material {
  const path = (suffix: string) => join(dir, `${name}${suffix}`);
  const certPem = readFileSync(path(".pem"), "utf8");
  const keyPem = readFileSync(path(".key.pem"), "utf8");
  const key: KeyObject = createPrivateKey(keyPem);
  const certDer = new Uint8Array(new X509Certificate(certPem).raw);
  const keyDer = new Uint8Array(key.export({ format: "der", type: "pkcs8" }));
  const traditional = key.asymmetricKeyType === "rsa" ? "pkcs1" : "sec1";
  const keyDerTraditional = new Uint8Array(key.export({ format: "der", type: traditional }));
  writeFileSync(path(".der"), certDer);
  writeFileSync(path(".key.der"), keyDer, { mode: 0o600 });
  return {
    certPem,
    keyPem,
    certPath: path(".pem"),
    keyPath: path(".key.pem"),
    certDer,
    keyDer,
    keyDerTraditional,
    certDerPath: path(".der"),
    keyDerPath: path(".key.der"),
  };
}
