/** A local listening endpoint: a Unix socket path or a loopback TCP address. */
export type Endpoint = { kind: "unix"; path: string } | { kind: "tcp"; host: string; port: number };

export function formatEndpoint(endpoint: Endpoint): string {
  if (endpoint.kind === "unix") return endpoint.path;
  return endpoint.host.includes(":") ? `[${endpoint.host}]:${endpoint.port}` : `${endpoint.host}:${endpoint.port}`;
}
