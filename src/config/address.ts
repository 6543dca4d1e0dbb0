/**
 * Server addresses (host[:port], [IPv6]:port) and local endpoints (Unix path or loopback TCP).
 */
import { isAbsolute, normalize } from "node:path";
import type { Endpoint } from "../common/endpoint";
import { ipFamily, isLoopbackAddress } from "../common/ip-address";
import { fail } from "./errors";

/** RFC 1123 host name: dot-separated labels of letters, digits and inner hyphens. */
const HOST_NAME = /^(?=.{1,253}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$/;

/** Server ports: TACACS+ (RFC 8907 §4) and TACACS+ over TLS (RFC 9887 §5.2). */
export const DEFAULT_PORT = { plain: 49, tls: 300 } as const;

/** sun_path holds 108 bytes including the terminating NUL. */
const MAX_UNIX_PATH_BYTES = 107;

export function isHostName(text: string): boolean {
  return HOST_NAME.test(text) && !/^[\d.]+$/.test(text);
}

export function isValidHost(text: string): boolean {
  return ipFamily(text) !== 0 || isHostName(text);
}

function parsePort(text: string, subject: string, min: number): number {
  const port = /^\d{1,5}$/.test(text) ? Number(text) : Number.NaN;
  if (!(port >= min && port <= 65535)) fail(subject, `port ${JSON.stringify(text)} is not a number ${min}..65535`);
  return port;
}

/** Splits "host", "host:port", "[v6]", "[v6]:port" or a bare IPv6 address. */
export function splitHostPort(text: string, subject: string): { host: string; port?: string } {
  const bracketed = /^\[([^\]]*)\](?::(.*))?$/.exec(text);
  if (bracketed) {
    const host = bracketed[1]!;
    if (ipFamily(host) !== 6) fail(subject, `${JSON.stringify(text)}: [${host}] is not an IPv6 address`);
    return bracketed[2] === undefined ? { host } : { host, port: bracketed[2] };
  }
  const colons = text.split(":").length - 1;
  if (colons > 1) {
    if (ipFamily(text) !== 6) fail(subject, `${JSON.stringify(text)} is not an IPv6 address (write [IPv6]:port to add a port)`);
    return { host: text };
  }
  if (colons === 1) {
    const [host, port] = text.split(":") as [string, string];
    return { host, port };
  }
  return { host: text };
}

/** A --server-addr value; the port defaults to `defaultPort`. */
export function parseServerAddress(text: string, defaultPort: number, subject: string): { host: string; port: number } {
  const { host, port } = splitHostPort(text.trim(), subject);
  if (!isValidHost(host)) fail(subject, `${JSON.stringify(text)}: expected host[:port], IPv4[:port] or [IPv6]:port`);
  return { host, port: port === undefined ? defaultPort : parsePort(port, subject, 1) };
}

/** A listening endpoint: an absolute Unix socket path, or a loopback IP:port / localhost:port. */
export function parseEndpoint(text: string, subject: string): Endpoint {
  if (text.startsWith("/")) {
    if (!isAbsolute(text) || text.endsWith("/")) fail(subject, `${JSON.stringify(text)} is not a socket file path`);
    if (Buffer.byteLength(text) > MAX_UNIX_PATH_BYTES) fail(subject, `Unix socket path longer than ${MAX_UNIX_PATH_BYTES} bytes`);
    return { kind: "unix", path: normalize(text) };
  }
  const shape = "expected an absolute Unix socket path or a loopback address such as 127.0.0.1:9049 or [::1]:9049";
  if (!text.includes(":")) fail(subject, `${JSON.stringify(text)}: ${shape}`);
  const { host, port } = splitHostPort(text, subject);
  if (port === undefined) fail(subject, `${JSON.stringify(text)}: a TCP endpoint needs a port; ${shape}`);
  if (!isValidHost(host)) fail(subject, `${JSON.stringify(text)}: ${shape}`);
  // "localhost" is taken literally as 127.0.0.1 (no resolver): listeners bind IP literals only.
  const address = host.toLowerCase() === "localhost" ? "127.0.0.1" : host.toLowerCase();
  if (!isLoopbackAddress(address)) fail(subject, `${JSON.stringify(text)}: ${host} is not a loopback address; local endpoints must not be reachable from the network`);
  return { kind: "tcp", host: address, port: parsePort(port, subject, 0) };
}

export function sameEndpoint(a: Endpoint, b: Endpoint): boolean {
  if (a.kind === "unix") return b.kind === "unix" && a.path === b.path;
  if (b.kind === "unix") return false;
  // Two requests for an ephemeral port (0) never collide.
  return a.host === b.host && a.port === b.port && a.port !== 0;
}
