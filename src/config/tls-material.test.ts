import { beforeAll, expect, test } from "bun:test";
import { testPki, type Pki } from "../../test/support/pki";
import { ConfigError } from "./errors";
import { run } from "./test-helpers";
import { certificateFindings } from "./certificates";
import { clientIdentity, looksLikePkcs12, parseCertificates, parsePrivateKey } from "./tls-material";

let pki: Pki;
beforeAll(async () => {
  pki = await testPki();
}, 30_000);

const bytes = (text: string) => new TextEncoder().encode(text);

test("PEM bundles keep every certificate in order; DER holds one", () => {
  const bundle = parseCertificates(bytes(`${pki.clientEc.certPem}\n${pki.ca.certPem}`), "f");
  expect(bundle.map((certificate) => certificate.subject)).toEqual(["CN=agentd-client-ec", "CN=agentd test CA"]);
  expect(parseCertificates(pki.ca.certDer, "f").map((certificate) => certificate.subject)).toEqual(["CN=agentd test CA"]);
});

test("private keys in PEM, PKCS#8 DER, PKCS#1 DER (RSA) and SEC1 DER (EC)", () => {
  for (const material of [pki.clientEc, pki.clientRsa]) {
    const fromPem = parsePrivateKey(bytes(material.keyPem), "k");
    for (const der of [material.keyDer, material.keyDerTraditional]) {
      expect(parsePrivateKey(der, "k").export({ format: "pem", type: "pkcs8" })).toEqual(fromPem.export({ format: "pem", type: "pkcs8" }));
    }
  }
});

test("a client identity keeps the chain and the key as a PKCS#8 PEM secret", () => {
  const certificates = parseCertificates(bytes(`${pki.clientRsa.certPem}${pki.ca.certPem}`), "c");
  const identity = clientIdentity(certificates, parsePrivateKey(pki.clientRsa.keyDer, "k"), "k");
  expect(identity.clientCertificatePem.match(/BEGIN CERTIFICATE/g)).toHaveLength(2);
  expect(new TextDecoder().decode(identity.clientKeyPem.reveal())).toStartWith("-----BEGIN PRIVATE KEY-----");
  expect(String(identity.clientKeyPem)).toBe("[redacted]");
  expect(() => clientIdentity(certificates, parsePrivateKey(pki.clientEc.keyDer, "k"), "--client-key k")).toThrow("--client-key k: does not match the client certificate");
});

test("PKCS#12 is recognised; certificates and keys are not mistaken for it", () => {
  expect(looksLikePkcs12(pki.ca.certDer)).toBe(false);
  expect(looksLikePkcs12(pki.clientRsa.keyDer)).toBe(false);
  expect(looksLikePkcs12(new Uint8Array([0x30]))).toBe(false);
  expect(looksLikePkcs12(new Uint8Array())).toBe(false);
  // The opening of a real PFX: SEQUENCE, INTEGER 3, SEQUENCE { OID pkcs7-data ... }.
  const pfx = Uint8Array.from([0x30, 0x82, 0x04, 0x0c, 0x02, 0x01, 0x03, 0x30, 0x82, 0x03, 0xc2, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x01]);
  expect(looksLikePkcs12(pfx)).toBe(true);
  expect(() => parseCertificates(pfx, "f")).toThrow(ConfigError);
});

test("expired, not yet valid and soon expiring certificates: one finding each, by the first server naming it", async () => {
  const argv = ["--server-addr", "127.0.0.1", "--server-addr", "127.0.0.2", "--use-tls", "--ca-certificate", pki.expiredServer.certPath, "--client-certificate", pki.clientEc.certPath, "--client-key", pki.clientEc.keyPath];
  const today = await run(argv);
  if (today.kind !== "run") throw new Error("expected a configuration");
  expect(today.warnings).toEqual([]);
  const { certificates, certificateExpiryWarningDays } = today.config;
  expect(certificates.map((c) => `${c.server} ${c.role}`)).toEqual(["127.0.0.1:300 ca", "127.0.0.1:300 client", "127.0.0.2:300 ca", "127.0.0.2:300 client"]);
  expect(certificateFindings(certificates, Date.now(), certificateExpiryWarningDays)).toEqual([
    { severity: "error", message: expect.stringMatching(/^server '127\.0\.0\.1:300': CA certificate CN=localhost expired on .* 2020 GMT$/) },
  ]);
  expect(certificateFindings(certificates, Date.parse("2019-06-01T00:00:00Z"), 30)).toEqual([
    { severity: "error", message: expect.stringMatching(/^server '127\.0\.0\.1:300': CA certificate CN=localhost not valid before/) },
    { severity: "error", message: expect.stringMatching(/^server '127\.0\.0\.1:300': client certificate CN=agentd-client-ec not valid before/) },
  ]);
  // The test client certificate is valid for 365 days: 400 days of warning cover it.
  const soon = certificateFindings(certificates, Date.now(), 400).filter((f) => f.severity === "warning");
  expect(soon).toEqual([{ severity: "warning", message: expect.stringMatching(/^server '127\.0\.0\.1:300': client certificate CN=agentd-client-ec expires on .*, in 36[45] days$/) }]);
  // --check-config prints each certificate's expiry date and the findings on stderr; stdout stays the verdict.
  const checked = await run([...argv, "--check-config", "--certificate-expiry-warning-days", "400"]);
  expect(checked).toMatchObject({ kind: "exit", code: 0, stdout: "configuration OK\n" });
  const stderr = checked.kind === "exit" ? checked.stderr : "";
  expect(stderr).toContain("tacacsrs-agentd: certificate: server '127.0.0.1:300': CA certificate CN=localhost valid until 2020-02-01T00:00:00.000Z\n");
  expect(stderr).toContain("tacacsrs-agentd: error: server '127.0.0.1:300': CA certificate CN=localhost expired on");
  expect(stderr).toContain("tacacsrs-agentd: warning: server '127.0.0.1:300': client certificate CN=agentd-client-ec expires on");
  expect((await run([...argv, "--certificate-expiry-warning-days", "0"])).kind).toBe("exit");
});
