/**
 * The YANG loader: the RFC 9105 appendix example verbatim, both document shapes, RFC 7951
 * leniency (numbers as strings), RFC 9950 TLS material, warnings and errors naming the JSON
 * path, and a seeded fuzz that only ever yields a ConfigError.
 */
import { beforeAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { testPki, type Pki } from "../../../test/support/pki";
import { ConfigError } from "../errors";
import type { UpstreamServer } from "../../upstream/types";
import { FAN_OUT_LEAF, serversFromYang, type YangDefaults } from "./document";
import { prng } from "../../../test/support/prng";

const DEFAULTS: YangDefaults = { timeoutMs: 5000, psk: { keyExchange: "psk-dhe", groups: ["secp384r1", "secp256r1"] } };
const BASE = "/ietf-system:system/ietf-system-tacacs-plus:tacacs-plus";
const text = (bytes: Uint8Array | undefined) => new TextDecoder().decode(bytes);
const b64 = (bytes: Uint8Array | string) => Buffer.from(bytes).toString("base64");

/** RFC 9105 Appendix A, verbatim. */
const RFC_9105_EXAMPLE = `{
  "ietf-system:system": {
    "authentication": {
      "user-authentication-order": [
        "ietf-system-tacacs-plus:tacacs-plus",
        "ietf-system:local-users"
      ]
    },
    "ietf-system-tacacs-plus:tacacs-plus": {
      "server": [
        {
          "name": "tac_plus1",
          "server-type": "authentication",
          "address": "192.0.2.2",
          "shared-secret": "QaEfThUkO198010075460923+h3TbE8n",
          "source-ip": "192.0.2.12",
          "timeout": "10"
        }
      ]
    }
  }
}`;

function load(document: unknown, defaults = DEFAULTS): { servers: UpstreamServer[]; warnings: string[] } {
  const warnings: string[] = [];
  return { servers: serversFromYang(document, defaults, warnings).servers, warnings };
}

function wrap(servers: object[], extra: object = {}): object {
  return { "ietf-system:system": { "ietf-system-tacacs-plus:tacacs-plus": { ...extra, server: servers } } };
}

function server(fields: object = {}): object {
  return { name: "x", "server-type": "authentication authorization accounting", address: "192.0.2.2", ...fields };
}

function errorOf(document: unknown): string {
  try {
    load(document);
  } catch (error) {
    if (error instanceof ConfigError) return error.message;
    throw error;
  }
  throw new Error("accepted");
}

let pki: Pki;
beforeAll(async () => {
  pki = await testPki();
}, 30_000);

describe("RFC 9105", () => {
  test("the appendix example loads verbatim", () => {
    const { servers, warnings } = load(JSON.parse(RFC_9105_EXAMPLE));
    expect(servers).toHaveLength(1);
    const [tacPlus] = servers;
    expect(tacPlus).toMatchObject({ name: "tac_plus1", host: "192.0.2.2", port: 49, sourceAddress: "192.0.2.12", singleConnection: false, timeoutMs: 10_000, security: { kind: "tcp" } });
    expect(text(tacPlus!.sharedSecret?.reveal())).toBe("QaEfThUkO198010075460923+h3TbE8n");
    expect(warnings).toEqual([`${BASE}/server[name='tac_plus1']/server-type: tacacsrs-agentd sends authentication, authorization and accounting to every server in order`]);
  });

  test("a document whose top level is the tacacs-plus container", () => {
    const { servers } = load({ "ietf-system-tacacs-plus:tacacs-plus": { server: [server({ port: 4949 })] } });
    expect(servers[0]).toMatchObject({ host: "192.0.2.2", port: 4949, timeoutMs: 5000 });
  });

  test("numbers and booleans written as strings; list order is preference order", () => {
    const { servers } = load(wrap([server({ name: "b", port: "4949", "single-connection": "true", timeout: "7" }), server({ name: "a", "single-connection": true })]));
    expect(servers.map((entry) => [entry.name, entry.port, entry.singleConnection, entry.timeoutMs])).toEqual([["b", 4949, true, 7000], ["a", 49, true, 5000]]);
  });

  test("unknown leaves are warned about by path; statistics are ignored; vrf-instance is not supported", () => {
    const { warnings } = load({ ...wrap([server({ colour: "red", statistics: { sessions: "4" }, "vrf-instance": "mgmt" })]), extra: 1 });
    expect(warnings).toEqual([
      "/extra: unknown node, ignored",
      `${BASE}/server[name='x']/colour: unknown node, ignored`,
      `${BASE}/server[name='x']/vrf-instance: VRFs are not supported; the default routing table is used`,
    ]);
  });
});

describe("tacacsrs-agentd:accounting-fan-out (our augmentation of the server list)", () => {
  const named = (name: string, address: string, fanOut?: unknown) => server({ name, address, ...(fanOut === undefined ? {} : { [FAN_OUT_LEAF]: fanOut }) });
  const fanOutOf = (document: unknown) => {
    const warnings: string[] = [];
    const loaded = serversFromYang(document, DEFAULTS, warnings);
    return { fanOut: loaded.fanOut, warnings };
  };

  test("servers marked true are the collectors, in server order; false or absent are not", () => {
    const document = wrap([named("c", "192.0.2.3", true), named("a", "192.0.2.1", "false"), named("b", "192.0.2.2", "true"), named("d", "192.0.2.4")]);
    expect(fanOutOf(document)).toEqual({ fanOut: ["c", "b"], warnings: [] });
  });

  test("no server marked: no fan-out (ordered failover, as without the leaf)", () => {
    expect(fanOutOf(wrap([named("a", "192.0.2.1", false), named("b", "192.0.2.2")])).fanOut).toBeUndefined();
  });

  test("a value that is no boolean names its path; the leaf under another prefix is an unknown node", () => {
    expect(errorOf(wrap([named("a", "192.0.2.1", "yes")]))).toBe(`${BASE}/server[name='a']/${FAN_OUT_LEAF}: expected true or false`);
    const { fanOut, warnings } = fanOutOf(wrap([server({ "accounting-fan-out": true })]));
    expect(fanOut).toBeUndefined();
    expect(warnings).toEqual([`${BASE}/server[name='x']/accounting-fan-out: unknown node, ignored`]);
  });
});

describe("RFC 9950 TLS", () => {
  const hello = { "tls-versions": { min: "ietf-tls-common:tls13", max: "tlscmn:tls13" } };

  test("inline certificate identity (PKCS#8), CA certificates, SNI from domain-name, port 300", () => {
    const { servers } = load(wrap([server({
      "domain-name": "tacacs.example.com",
      "sni-enabled": true,
      "client-identity": { certificate: { "inline-definition": { "private-key-format": "ietf-crypto-types:one-asymmetric-key-format", "cleartext-private-key": b64(pki.clientEc.keyDer), "cert-data": b64(pki.clientEc.certDer) } } },
      "server-authentication": { "ca-certs": { "inline-definition": { certificate: [{ name: "ca", "cert-data": b64(pki.ca.certDer) }] } } },
      "hello-params": hello,
    })]));
    const security = servers[0]!.security;
    expect(servers[0]!.port).toBe(300);
    if (security.kind !== "tls") throw new Error("expected TLS");
    expect(security).toMatchObject({ useSystemCa: false, verifyServer: true, serverName: "tacacs.example.com" });
    expect(security.caPem).toHaveLength(1);
    expect(security.caPem[0]).toContain(pki.ca.certPem.split("\n")[1]!);
    expect(security.clientCertificatePem).toContain(pki.clientEc.certPem.split("\n")[1]!);
    expect(text(security.clientKeyPem?.reveal())).toContain("-----BEGIN PRIVATE KEY-----");
  });

  test("PKCS#1 and SEC1 keys by private-key-format; credentials by reference", () => {
    const { servers } = load(wrap(
      [
        server({ name: "rsa", address: "192.0.2.3", "client-identity": { "credentials-reference": "rsa" }, "server-authentication": { "credentials-reference": "cas" } }),
        server({ name: "ec", "client-identity": { certificate: { "inline-definition": { "private-key-format": "ec-private-key-format", "cleartext-private-key": b64(pki.clientEc.keyDerTraditional), "cert-data": b64(pki.clientEc.certDer) } } } }),
      ],
      {
        "client-credentials": [{ id: "rsa", certificate: { "inline-definition": { "private-key-format": "ct:rsa-private-key-format", "cleartext-private-key": b64(pki.clientRsa.keyDerTraditional), "cert-data": b64(pki.clientRsa.certDer) } } }],
        "server-credentials": [{ id: "cas", "ca-certs": { "inline-definition": { certificate: [{ name: "a", "cert-data": b64(pki.ca.certDer) }, { name: "b", "cert-data": b64(pki.untrustedCa.certDer) }] } } }],
      },
    ));
    const [rsa, ec] = servers.map((entry) => entry.security);
    if (rsa?.kind !== "tls" || ec?.kind !== "tls") throw new Error("expected TLS");
    expect(rsa.caPem).toHaveLength(2);
    expect(rsa.clientCertificatePem).toContain(pki.clientRsa.certPem.split("\n")[1]!);
    expect([ec.useSystemCa, ec.caPem]).toEqual([true, []]);
  });

  test("tls13-epsk identity with the PSK-DHE settings of the command line", () => {
    const { servers } = load(
      wrap([server({ "client-identity": { "tls13-epsk": { "inline-definition": { "cleartext-symmetric-key": b64("sixteen-octets-!") }, "external-identity": "host01", hash: "sha-256" } }, "server-authentication": { "tls13-epsks": [null] } })]),
      { ...DEFAULTS, psk: { keyExchange: "psk-only", groups: [] } },
    );
    const security = servers[0]!.security;
    if (security.kind !== "psk") throw new Error("expected PSK");
    expect([text(security.identity), text(security.key.reveal()), security.keyExchange, security.groups, servers[0]!.port]).toEqual(["host01", "sixteen-octets-!", "psk-only", [], 300]);
  });
});

describe("errors name the JSON path", () => {
  const X = `${BASE}/server[name='x']`;
  const cert = () => ({ "inline-definition": { "cleartext-private-key": b64(pki.clientEc.keyDer), "cert-data": b64(pki.clientEc.certDer) } });
  const epsk = (fields: object) => ({ "tls13-epsk": { "inline-definition": { "cleartext-symmetric-key": b64("sixteen-octets-!") }, "external-identity": "id", ...fields } });
  const cases: [string, () => unknown, string][] = [
    ["port out of range", () => wrap([server({ port: 70000 })]), `${X}/port: expected an integer 0..65535`],
    ["port 0", () => wrap([server({ port: 0 })]), `${X}/port: 0 is not a port a server can listen on`],
    ["port as words", () => wrap([server({ port: "forty-nine" })]), `${X}/port: expected an integer 0..65535`],
    ["timeout 0", () => wrap([server({ timeout: 0 })]), `${X}/timeout: expected an integer 1..65535`],
    ["boolean", () => wrap([server({ "single-connection": "yes" })]), `${X}/single-connection: expected true or false`],
    ["address", () => wrap([server({ address: "not an address!" })]), `${X}/address: expected an IP address or a DNS host name`],
    ["missing address", () => wrap([{ name: "x", "server-type": "accounting" }]), `${X}/address: missing (mandatory)`],
    ["server-type bits", () => wrap([server({ "server-type": "auth" })]), `${X}/server-type: expected space-separated bits of authentication, authorization, accounting`],
    ["missing server-type", () => wrap([{ name: "x", address: "192.0.2.2" }]), `${X}/server-type: missing (mandatory)`],
    ["missing name", () => wrap([{ address: "192.0.2.2" }]), `${BASE}/server[1]/name: missing list key`],
    ["duplicate name", () => wrap([server(), server({ address: "192.0.2.3" })]), `${X}: duplicate list key`],
    ["duplicate address and port", () => wrap([server({ name: "a" }), server({ name: "b", port: "49" })]), `${BASE}/server[name='b']: address 192.0.2.2 port 49 is already used`],
    ["server not a list", () => wrap({ name: "x" } as unknown as object[]), `${BASE}/server: expected a JSON array`],
    ["no server", () => wrap([]), `${BASE}/server: no server configured`],
    ["root not an object", () => [], ": expected a JSON object"],
    ["no tacacs-plus", () => ({ "ietf-system:system": {} }), `/ietf-system:system/ietf-system-tacacs-plus:tacacs-plus: expected "ietf-system-tacacs-plus:tacacs-plus"`],
    ["nothing known", () => ({ other: 1 }), `/: expected "ietf-system-tacacs-plus:tacacs-plus" or "ietf-system:system"`],
    ["both shapes", () => ({ ...wrap([server()]), "ietf-system-tacacs-plus:tacacs-plus": {} }), "/: give"],
    ["source-ip", () => wrap([server({ "source-ip": "host.example" })]), `${X}/source-ip: expected an IP address`],
    ["source-interface", () => wrap([server({ "source-interface": "eth0" })]), `${X}/source-interface: not supported; use source-ip`],
    ["secret and TLS", () => wrap([server({ "shared-secret": "s", "hello-params": {} })]), `${X}/shared-secret: the security choice is either TLS or shared-secret obfuscation`],
    ["SNI without name", () => wrap([server({ "sni-enabled": true })]), `${X}/sni-enabled: a domain-name must be given`],
    ["TLS 1.2", () => wrap([server({ "hello-params": { "tls-versions": { min: "ietf-tls-common:tls12" } } })]), `${X}/hello-params/tls-versions/min: only TLS 1.3 (tls13) is supported`],
    ["unknown reference", () => wrap([server({ "client-identity": { "credentials-reference": "nope" } })]), `${X}/client-identity/credentials-reference: no client-credentials entry with id 'nope'`],
    ["pinned certificates", () => wrap([server({ "server-authentication": { "ee-certs": {} } })]), `${X}/server-authentication/ee-certs: pinned end-entity certificates are not supported`],
    ["keystore", () => wrap([server({ "client-identity": { certificate: { "central-keystore-reference": {} } } })]), `${X}/client-identity/certificate/central-keystore-reference: only inline-definition is supported`],
    ["hidden key", () => wrap([server({ "client-identity": { certificate: { "inline-definition": { "hidden-private-key": [null] } } } })]), `${X}/client-identity/certificate/inline-definition/hidden-private-key: hidden private keys are not supported`],
    ["raw public key", () => wrap([server({ "client-identity": { "raw-private-key": {} } })]), `${X}/client-identity/raw-private-key: raw public key identities are not supported`],
    ["empty identity", () => wrap([server({ "client-identity": {} })]), `${X}/client-identity: expected a certificate or tls13-epsk client identity`],
    ["certificate as PEM", () => wrap([server({ "client-identity": { certificate: { "inline-definition": { ...cert()["inline-definition"], "cert-data": b64(pki.clientEc.certPem) } } } })]), `${X}/client-identity/certificate/inline-definition/cert-data: expected base64 DER, found PEM`],
    ["certificate garbage", () => wrap([server({ "client-identity": { certificate: { "inline-definition": { ...cert()["inline-definition"], "cert-data": b64("garbage") } } } })]), `${X}/client-identity/certificate/inline-definition/cert-data: neither a PEM nor a DER X.509 certificate`],
    ["not base64", () => wrap([server({ "client-identity": { certificate: { "inline-definition": { ...cert()["inline-definition"], "cert-data": "***" } } } })]), `${X}/client-identity/certificate/inline-definition/cert-data: expected base64`],
    ["key of another certificate", () => wrap([server({ "client-identity": { certificate: { "inline-definition": { ...cert()["inline-definition"], "cleartext-private-key": b64(pki.clientRsa.keyDer) } } } })]), `${X}/client-identity/certificate/inline-definition/cleartext-private-key: does not match the client certificate`],
    ["unknown key format", () => wrap([server({ "client-identity": { certificate: { "inline-definition": { ...cert()["inline-definition"], "private-key-format": "ct:dsa" } } } })]), `${X}/client-identity/certificate/inline-definition/private-key-format: expected one of`],
    ["EPSK hash", () => wrap([server({ "client-identity": epsk({ hash: "sha-384" }) })]), `${X}/client-identity/tls13-epsk/hash: only sha-256 is supported`],
    ["EPSK importer", () => wrap([server({ "client-identity": epsk({ context: "c" }) })]), `${X}/client-identity/tls13-epsk/context: PSK importers (RFC 9258) are not supported`],
    ["EPSK short key", () => wrap([server({ "client-identity": { "tls13-epsk": { "inline-definition": { "cleartext-symmetric-key": b64("short") }, "external-identity": "id" } } })]), `${X}/client-identity/tls13-epsk/inline-definition/cleartext-symmetric-key: PSK key is 5 octets`],
    ["EPSK without identity", () => wrap([server({ "client-identity": { "tls13-epsk": { "inline-definition": { "cleartext-symmetric-key": b64("sixteen-octets-!") } } } })]), `${X}/client-identity/tls13-epsk/external-identity: missing (mandatory)`],
    ["EPSK server authentication alone", () => wrap([server({ "server-authentication": { "tls13-epsks": [null] } })]), `${X}/server-authentication: tls13-epsks needs a tls13-epsk client identity`],
    ["empty leaf written wrong", () => wrap([server({ "server-authentication": { "tls13-epsks": true } })]), `${X}/server-authentication/tls13-epsks: expected [null]`],
  ];
  for (const [name, document, message] of cases) {
    test(name, () => {
      expect(errorOf(document())).toStartWith(message);
    });
  }
});


describe("fuzzed documents only ever give a clean ConfigError", () => {
  const REPLACEMENTS: unknown[] = [null, true, false, 0, -1, 1e308, 65536, "", "x", "true", "10", "::1", "a".repeat(5000), [], [null], {}, { name: "x" }, [{}], "tlscmn:tls13", "AAAA"];

  function mutate(node: unknown, next: () => number): unknown {
    if (Array.isArray(node)) {
      const copy = node.map((entry) => (next() < 0.3 ? mutate(entry, next) : entry));
      if (next() < 0.1 && copy.length > 0) copy.push(copy[0]);
      if (next() < 0.1) copy.pop();
      return copy;
    }
    if (typeof node === "object" && node !== null) {
      const copy: Record<string, unknown> = {};
      for (const [key, value] of Object.entries(node)) {
        const roll = next();
        if (roll < 0.05) continue;
        if (roll < 0.15) copy[key] = REPLACEMENTS[Math.floor(next() * REPLACEMENTS.length)];
        else if (roll < 0.18) copy[`${key}-typo`] = value;
        else copy[key] = mutate(value, next);
      }
      return copy;
    }
    return next() < 0.2 ? REPLACEMENTS[Math.floor(next() * REPLACEMENTS.length)] : node;
  }

  // `npm run fuzz` (scripts/fuzz.ts) replays with other seeds and more rounds through the environment.
  const SEED = Number(process.env.FUZZ_SEED ?? 20261123);
  const ROUNDS = Number(process.env.FUZZ_CASES ?? 2000);

  test(`${ROUNDS} seeded mutations (seed ${SEED}) of the RFC example, the shipped examples and a TLS document`, () => {
    const shipped = ["plain", "tls", "mtls", "psk"].map((name) => JSON.parse(readFileSync(join(import.meta.dir, `../../../packaging/examples/${name}.json`), "utf8")));
    const seeds = [
      JSON.parse(RFC_9105_EXAMPLE),
      ...shipped,
      wrap(
        [server({ "domain-name": "a.example", "sni-enabled": true, "client-identity": { "credentials-reference": "c" }, "server-authentication": { "ca-certs": { "inline-definition": { certificate: [{ name: "ca", "cert-data": b64(pki.ca.certDer) }] } } }, "hello-params": { "tls-versions": { min: "tlscmn:tls13" } } }),
          server({ name: "p", address: "192.0.2.9", "client-identity": { "tls13-epsk": { "inline-definition": { "cleartext-symmetric-key": b64("sixteen-octets-!") }, "external-identity": "id" } } })],
        { "client-credentials": [{ id: "c", certificate: { "inline-definition": { "cleartext-private-key": b64(pki.clientEc.keyDer), "cert-data": b64(pki.clientEc.certDer) } } }] },
      ),
    ];
    const next = prng(SEED);
    let accepted = 0;
    for (let round = 0; round < ROUNDS; round++) {
      const document = mutate(seeds[round % seeds.length], next);
      try {
        load(document);
        accepted++;
      } catch (error) {
        if (!(error instanceof ConfigError)) throw new Error(`round ${round}: ${String(error)} for ${JSON.stringify(document).slice(0, 400)}`);
        expect(error.message).not.toContain("QaEfThUkO1980");
      }
    }
    // Both outcomes must occur, or the mutation is too weak or too strong to test anything.
    expect(accepted).toBeGreaterThan(ROUNDS / 20);
    expect(accepted).toBeLessThan(ROUNDS * 0.95);
  });
});
