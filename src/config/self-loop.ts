/**
 * The proxy must not be its own upstream: a client of a proxy whose --server-addr (or YANG server)
 * resolves to the proxy endpoint would make the agent send its own traffic back into itself,
 * each request opening another proxy connection until every limit is full. Refused at start, on
 * SIGHUP and in --check-config (the reference agent drops such entries with a log line).
 */
import { lookup } from "node:dns/promises";
import { isIP } from "node:net";
import type { Endpoint } from "../common/endpoint";
import type { UpstreamServer } from "../upstream/types";
import { fail } from "./errors";

/** The addresses a host name or literal stands for (none when it does not resolve: the engine reports that). */
export type Resolve = (host: string) => Promise<string[]>;

const resolveHost: Resolve = async (host) => {
  if (isIP(host) !== 0) return [host];
  try {
    return (await lookup(host, { all: true })).map((entry) => entry.address);
  } catch {
    return [];
  }
};

/** Throws a ConfigError naming the first server that resolves to the TCP proxy endpoint. */
export async function refuseSelfLoop(
  subject: string,
  servers: readonly Pick<UpstreamServer, "name" | "host" | "port">[],
  proxy: Endpoint | undefined,
  resolve: Resolve = resolveHost,
): Promise<void> {
  if (proxy?.kind !== "tcp") return;
  // Only a server on the proxy's port can be the proxy: nothing else is resolved.
  const samePort = servers.filter((server) => server.port === proxy.port);
  if (samePort.length === 0) return;
  const proxyAddresses = new Set((await resolve(proxy.host)).map(canonical));
  for (const server of samePort) {
    const hit = (await resolve(server.host)).map(canonical).find((address) => proxyAddresses.has(address));
    if (hit !== undefined) {
      fail(subject, `server '${server.name}' (${hit} port ${server.port}) is this agent's own --proxy-endpoint ${proxy.host}:${proxy.port}: the proxy would send its traffic back into itself`);
    }
  }
}

/** One spelling per address: IPv4-mapped IPv6 as IPv4, IPv6 compressed (the URL parser's form). */
function canonical(address: string): string {
  if (isIP(address) !== 6) return address;
  const compressed = new URL(`http://[${address}]/`).hostname.slice(1, -1);
  const mapped = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(compressed);
  if (mapped === null) return compressed;
  const [high, low] = [parseInt(mapped[1]!, 16), parseInt(mapped[2]!, 16)];
  return `${high >> 8}.${high & 0xff}.${low >> 8}.${low & 0xff}`;
}
