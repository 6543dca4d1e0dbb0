/**
 * A test PKI generated with the openssl CLI, once per test process, in a temp dir removed at exit:
 * a CA, server certificates (good, from an untrusted CA, expired, wrong name), client
 * certificates (P-256, RSA, from an untrusted CA), each in PEM and DER.
 *
 *   const pki = await testPki();
 *   pki.server.certPem, pki.server.keyPath, pki.clientRsa.keyDer, pki.ca.certPath ...
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
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

export function testPki(): Promise<Pki> {
  cached ??= generate();
  return cached;
}

const SERVER_NAMES = "subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1";

/** Independent certificates are made in parallel: about 45 short openssl runs. */
async function generate(): Promise<Pki> {
  const dir = mkdtempSync(join(tmpdir(), "agentd-pki-"));
  process.on("exit", () => rmSync(dir, { recursive: true, force: true }));
  const [ca, untrustedCa] = await Promise.all([
    selfSignedCa(dir, "ca", "agentd test CA"),
    selfSignedCa(dir, "untrusted-ca", "agentd untrusted CA"),
  ]);
  const issued = {
    server: issue(dir, "server", ca, { cn: "localhost", ext: SERVER_NAMES, key: "ec" }),
    untrustedServer: issue(dir, "untrusted-server", untrustedCa, { cn: "localhost", ext: SERVER_NAMES, key: "ec" }),
    expiredServer: issue(dir, "expired-server", ca, { cn: "localhost", ext: SERVER_NAMES, key: "ec", expired: true }),
    wrongNameServer: issue(dir, "wrong-name-server", ca, {
      cn: "wrong.example",
      ext: "subjectAltName=DNS:wrong.example",
      key: "ec",
    }),
    clientEc: issue(dir, "client-ec", ca, { cn: "agentd-client-ec", ext: "extendedKeyUsage=clientAuth", key: "ec" }),
    clientRsa: issue(dir, "client-rsa", ca, { cn: "agentd-client-rsa", ext: "extendedKeyUsage=clientAuth", key: "rsa" }),
    untrustedClient: issue(dir, "untrusted-client", untrustedCa, {
      cn: "agentd-untrusted-client",
      ext: "extendedKeyUsage=clientAuth",
      key: "ec",
    }),
  };
  const names = Object.keys(issued) as (keyof typeof issued)[];
  const done = await Promise.all(Object.values(issued));
  return { dir, ca, untrustedCa, ...(Object.fromEntries(names.map((name, i) => [name, done[i]!])) as Record<keyof typeof issued, Material>) };
}

async function openssl(dir: string, ...args: string[]): Promise<void> {
  const run = Bun.spawn(["openssl", ...args], { cwd: dir, stdin: "ignore", stdout: "ignore", stderr: "pipe" });
  const [exitCode, stderr] = await Promise.all([run.exited, new Response(run.stderr).text()]);
  if (exitCode !== 0) throw new Error(`openssl ${args.join(" ")} failed:\n${stderr}`);
}

function newKey(dir: string, name: string, key: "ec" | "rsa"): Promise<void> {
  const algorithm = key === "ec" ? ["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"] : ["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"];
  return openssl(dir, "genpkey", ...algorithm, "-out", `${name}.key.pem`);
}

async function selfSignedCa(dir: string, name: string, cn: string): Promise<Material> {
  await newKey(dir, name, "ec");
  await openssl(dir, "req", "-x509", "-new", "-key", `${name}.key.pem`, "-subj", `/CN=${cn}`, "-days", "30",
    "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign", "-out", `${name}.pem`);
  return material(dir, name);
}

async function issue(
  dir: string,
  name: string,
  issuer: Material,
  spec: { cn: string; ext: string; key: "ec" | "rsa"; expired?: boolean },
): Promise<Material> {
  await newKey(dir, name, spec.key);
  await openssl(dir, "req", "-new", "-key", `${name}.key.pem`, "-subj", `/CN=${spec.cn}`, "-addext", spec.ext, "-out", `${name}.csr`);
  if (spec.expired) await signExpired(dir, name, issuer);
  else {
    await openssl(dir, "x509", "-req", "-in", `${name}.csr`, "-CA", issuer.certPath, "-CAkey", issuer.keyPath, "-set_serial", serial(),
      "-days", "30", "-copy_extensions", "copyall", "-out", `${name}.pem`);
  }
  return material(dir, name);
}

/** A random positive serial, so parallel signing needs no shared serial file. */
function serial(): string {
  return `0x${Buffer.from(crypto.getRandomValues(new Uint8Array(12))).toString("hex").replace(/^./, "1")}`;
}

/** `openssl x509` cannot backdate; `openssl ca` can, with a throwaway database. */
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

async function material(dir: string, name: string): Promise<Material> {
  const path = (suffix: string) => join(dir, `${name}${suffix}`);
  await Promise.all([
    openssl(dir, "x509", "-in", `${name}.pem`, "-outform", "DER", "-out", `${name}.der`),
    // `openssl pkey -outform DER` writes the traditional form; pkcs8 -topk8 writes PKCS#8.
    openssl(dir, "pkcs8", "-topk8", "-nocrypt", "-in", `${name}.key.pem`, "-outform", "DER", "-out", `${name}.key.der`),
    openssl(dir, "pkey", "-in", `${name}.key.pem`, "-traditional", "-outform", "DER", "-out", `${name}.key.trad.der`),
  ]);
  return {
    certPem: readFileSync(path(".pem"), "utf8"),
    keyPem: readFileSync(path(".key.pem"), "utf8"),
    certPath: path(".pem"),
    keyPath: path(".key.pem"),
    certDer: new Uint8Array(readFileSync(path(".der"))),
    keyDer: new Uint8Array(readFileSync(path(".key.der"))),
    keyDerTraditional: new Uint8Array(readFileSync(path(".key.trad.der"))),
    certDerPath: path(".der"),
    keyDerPath: path(".key.der"),
  };
}
