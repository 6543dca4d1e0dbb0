/**
 * The ietf-system-tacacs-plus document (RFC 9105, TLS revision RFC 9950) as RFC 7951 JSON,
 * turned into the upstream server list in preference order (the list is ordered-by user).
 */
import { isIP } from "node:net";
import * as v from "valibot";
import { Secret } from "../../common/secret";
import type { TlsGroup, TransportSecurity } from "../../transport/types";
import type { UpstreamServer } from "../../upstream/types";
import { DEFAULT_PORT, isHostName, isValidHost } from "../address";
import { fail } from "../errors";
import { boundedInteger, seconds, yangBoolean, yangText } from "../values";
import { YangObject } from "./node";
import {
  CLIENT_IDENTITY_CHOICES,
  SERVER_AUTHENTICATION_CHOICES,
  checkHelloParams,
  parseClientIdentity,
  parseServerAuthentication,
  type ClientIdentity,
  type ServerAuthentication,
} from "./tls";

const SYSTEM = "ietf-system:system";
const TACACS_PLUS = "ietf-system-tacacs-plus:tacacs-plus";
/** YangObject looks members up without our module prefix. */
const TACACS_PLUS_MEMBER = "tacacs-plus";
const SERVER_TYPES = ["authentication", "authorization", "accounting"];

export interface YangDefaults {
  /** --request-timeout-seconds, for servers without `timeout`. */
  timeoutMs: number;
  /** PSK-DHE settings for tls13-epsk servers (the YANG model has no leaves for them). */
  psk: { keyExchange: "psk-dhe" | "psk-only"; groups: readonly TlsGroup[] };
}

export interface YangServers {
  servers: UpstreamServer[];
  /** Servers marked `tacacsrs-agentd:accounting-fan-out: true`, in server order; absent when none is. */
  fanOut?: string[];
  /** True when the document itself holds secrets (shared secrets, keys). */
  holdsSecrets: boolean;
}

const serverType = v.pipe(
  yangText,
  v.transform((text) => text.trim().split(/\s+/)),
  v.check((bits) => bits.every((bit) => SERVER_TYPES.includes(bit)), `expected space-separated bits of ${SERVER_TYPES.join(", ")}`),
);
const port = boundedInteger(0, 65535);
const timeout = seconds(1, 65535);
const ipAddress = v.pipe(yangText, v.check((text) => isIP(text) !== 0, "expected an IP address"));
const host = v.pipe(yangText, v.check(isValidHost, "expected an IP address or a DNS host name"));
const domainName = v.pipe(yangText, v.check(isHostName, "expected a DNS domain name"));

const TACACS_PLUS_MEMBERS = ["server", "client-credentials", "server-credentials"];
/**
 * Our own augmentation of the server list (packaging/examples/tacacsrs-agentd.yang): the
 * accounting collectors of --accounting-fan-out. A member of another module is qualified with
 * its module name (RFC 7951 §4).
 */
export const FAN_OUT_LEAF = "tacacsrs-agentd:accounting-fan-out";
const SERVER_MEMBERS = [
  FAN_OUT_LEAF, "server-type", "domain-name", "sni-enabled", "address", "port", "shared-secret", "source-ip", "source-interface",
  "vrf-instance", "single-connection", "timeout", "client-identity", "server-authentication", "hello-params",
];
const TLS_MEMBERS = ["client-identity", "server-authentication", "hello-params"];

/** The tacacs-plus container, under ietf-system:system or at the top level. */
function tacacsPlus(document: unknown, warnings: string[]): YangObject {
  const root = new YangObject("", document, [SYSTEM, TACACS_PLUS_MEMBER], warnings);
  // The rest of ietf-system (authentication order, NTP, ...) belongs to other software.
  const system = root.child(SYSTEM, [TACACS_PLUS_MEMBER], "all");
  if (system && root.has(TACACS_PLUS_MEMBER)) fail("/", `give "${TACACS_PLUS}" inside "${SYSTEM}" or at the top level, not both`);
  const container = system ?? root;
  const inner = container.child(TACACS_PLUS_MEMBER, TACACS_PLUS_MEMBERS);
  if (!inner) fail(system ? `${system.path}/${TACACS_PLUS}` : "/", `expected "${TACACS_PLUS}"${system ? "" : ` or "${SYSTEM}" at the top level`}`);
  return inner;
}

/** Resolves `credentials-reference` or parses the explicit case. */
function referenced<T>(node: YangObject, known: Map<string, T>, listName: string, parse: (node: YangObject) => T): T {
  const reference = node.leaf("credentials-reference", yangText);
  if (reference === undefined) return parse(node);
  const found = known.get(reference);
  if (found === undefined) fail(node.pathOf("credentials-reference"), `no ${listName} entry with id '${reference}'`);
  return found;
}

interface Credentials {
  clients: Map<string, ClientIdentity>;
  servers: Map<string, ServerAuthentication>;
}

function credentialLists(tacacs: YangObject): Credentials {
  const clients = new Map(tacacs.list("client-credentials", "id", CLIENT_IDENTITY_CHOICES).map((entry) => [entry.required("id", yangText), parseClientIdentity(entry)] as const));
  const servers = new Map(tacacs.list("server-credentials", "id", SERVER_AUTHENTICATION_CHOICES).map((entry) => [entry.required("id", yangText), parseServerAuthentication(entry)] as const));
  return { clients, servers };
}

function tlsSecurity(server: YangObject, credentials: Credentials, defaults: YangDefaults, serverName: string | undefined): TransportSecurity {
  const hello = server.child("hello-params", ["tls-versions", "cipher-suites"]);
  if (hello) checkHelloParams(hello);
  const identityNode = server.child("client-identity", ["credentials-reference", ...CLIENT_IDENTITY_CHOICES]);
  const identity = identityNode && referenced(identityNode, credentials.clients, "client-credentials", parseClientIdentity);
  const authenticationNode = server.child("server-authentication", ["credentials-reference", ...SERVER_AUTHENTICATION_CHOICES]);
  const authentication = authenticationNode ? referenced(authenticationNode, credentials.servers, "server-credentials", parseServerAuthentication) : { caPem: [], epsk: false };
  if (identity?.kind === "epsk") {
    if (authentication.caPem.length > 0) server.warnings.push(`${server.pathOf("server-authentication")}: ca-certs are not used with a tls13-epsk client identity; ignored`);
    return { kind: "psk", identity: identity.identity, key: identity.key, keyExchange: defaults.psk.keyExchange, groups: defaults.psk.groups, serverName };
  }
  if (authentication.epsk && authentication.caPem.length === 0) fail(server.pathOf("server-authentication"), "tls13-epsks needs a tls13-epsk client identity");
  // Without configured CA certificates the system trust store authenticates the server.
  const security: TransportSecurity = { kind: "tls", caPem: authentication.caPem, useSystemCa: authentication.caPem.length === 0, verifyServer: true, serverName };
  return identity ? { ...security, clientCertificatePem: identity.clientCertificatePem, clientKeyPem: identity.clientKeyPem } : security;
}

function parseServer(server: YangObject, credentials: Credentials, defaults: YangDefaults): UpstreamServer {
  const name = server.required("name", yangText);
  const types = server.required("server-type", serverType);
  if (SERVER_TYPES.some((type) => !types.includes(type))) {
    server.warnings.push(`${server.pathOf("server-type")}: tacacsrs-agentd sends authentication, authorization and accounting to every server in order`);
  }
  server.refuse("source-interface", "not supported; use source-ip");
  if (server.has("vrf-instance")) server.warnings.push(`${server.pathOf("vrf-instance")}: VRFs are not supported; the default routing table is used`);
  const domain = server.leaf("domain-name", domainName);
  const sni = server.leaf("sni-enabled", yangBoolean);
  if (sni === true && domain === undefined) fail(server.pathOf("sni-enabled"), "a domain-name must be given to use SNI");
  if (sni === false && domain !== undefined) server.warnings.push(`${server.pathOf("sni-enabled")}: the domain-name is still sent as SNI and verified`);
  const secret = server.leaf("shared-secret", yangText);
  const usesTls = TLS_MEMBERS.some((member) => server.has(member));
  if (usesTls && secret !== undefined) fail(server.pathOf("shared-secret"), "the security choice is either TLS or shared-secret obfuscation, not both");
  const security: TransportSecurity = usesTls ? tlsSecurity(server, credentials, defaults, domain) : { kind: "tcp" };
  const portNumber = server.leaf("port", port) ?? (usesTls ? DEFAULT_PORT.tls : DEFAULT_PORT.plain);
  if (portNumber === 0) fail(server.pathOf("port"), "0 is not a port a server can listen on");
  return {
    name,
    host: server.required("address", host),
    port: portNumber,
    sourceAddress: server.leaf("source-ip", ipAddress),
    sharedSecret: secret === undefined ? undefined : Secret.fromText(secret),
    security,
    singleConnection: server.leaf("single-connection", yangBoolean) ?? false,
    timeoutMs: server.leaf("timeout", timeout) ?? defaults.timeoutMs,
  };
}

/** The servers of a parsed JSON document; warnings for unknown and ignored nodes. */
export function serversFromYang(document: unknown, defaults: YangDefaults, warnings: string[]): YangServers {
  const tacacs = tacacsPlus(document, warnings);
  const credentials = credentialLists(tacacs);
  const entries = tacacs.list("server", "name", SERVER_MEMBERS, ["statistics"]);
  const servers = entries.map((server) => parseServer(server, credentials, defaults));
  const collectors = servers.filter((_server, index) => entries[index]!.leaf(FAN_OUT_LEAF, yangBoolean) === true).map((server) => server.name);
  if (servers.length === 0) fail(tacacs.pathOf("server"), "no server configured");
  const seen = new Set<string>();
  for (const server of servers) {
    const endpoint = `${server.host} ${server.port}`;
    if (seen.has(endpoint)) fail(`${tacacs.pathOf("server")}[name='${server.name}']`, `address ${server.host} port ${server.port} is already used by another server`);
    seen.add(endpoint);
  }
  const holdsSecrets = credentials.clients.size > 0 || servers.some((server) => server.sharedSecret !== undefined || server.security.kind === "psk" || (server.security.kind === "tls" && server.security.clientKeyPem !== undefined));
  return { servers, holdsSecrets, ...(collectors.length > 0 ? { fanOut: collectors } : {}) };
}
