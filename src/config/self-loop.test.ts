import { expect, test } from "bun:test";
import { ConfigError } from "./errors";
import { refuseSelfLoop, type Resolve } from "./self-loop";

const names: Record<string, string[]> = { localhost: ["127.0.0.1", "::1"], "proxy.example": ["0:0:0:0:0:0:0:1"], "far.example": ["192.0.2.7"] };
const resolve: Resolve = async (host) => names[host] ?? [host];
const server = (host: string, port: number) => ({ name: `${host}:${port}`, host, port });
const proxy = (host: string, port: number) => ({ kind: "tcp" as const, host, port });

test("a server that resolves to the TCP proxy endpoint is refused with one line naming both", async () => {
  for (const [host, proxyHost] of [["127.0.0.1", "127.0.0.1"], ["localhost", "127.0.0.1"], ["::1", "localhost"], ["proxy.example", "::1"], ["::ffff:127.0.0.1", "127.0.0.1"]] as const) {
    const refusal = refuseSelfLoop("--server-addr", [server("192.0.2.1", 49), server(host, 4900)], proxy(proxyHost, 4900), resolve);
    await expect(refusal).rejects.toBeInstanceOf(ConfigError);
    await expect(refusal).rejects.toThrow(/^--server-addr: server '.*:4900' \(.* port 4900\) is this agent's own --proxy-endpoint .*:4900: the proxy would send its traffic back into itself$/);
  }
});

test("other ports, other hosts, Unix proxy sockets and unresolvable names pass", async () => {
  await refuseSelfLoop("--server-addr", [server("127.0.0.1", 49)], proxy("127.0.0.1", 4900), resolve);
  await refuseSelfLoop("--server-addr", [server("far.example", 4900)], proxy("localhost", 4900), resolve);
  await refuseSelfLoop("--server-addr", [server("127.0.0.1", 4900)], { kind: "unix", path: "/run/p.sock" }, resolve);
  await refuseSelfLoop("--server-addr", [server("nowhere.invalid", 4900)], proxy("127.0.0.1", 4900), async () => []);
});
