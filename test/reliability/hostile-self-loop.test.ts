/**
 * Issue 19, item 9: the proxy cannot be pointed at itself. A --server-addr that resolves to the
 * TCP --proxy-endpoint (the address itself, or a name such as localhost) is refused with one line
 * by --check-config and at start; the old agent accepted it and would have sent its proxy
 * traffic back into itself.
 */
import { expect, test } from "bun:test";
import { AGENT } from "../support/agent-process";

/** A loopback port nobody listens on (the check never connects; --check-config binds nothing). */
function freePort(): number {
  const listener = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  const port = listener.port;
  listener.stop(true);
  return port;
}

const SECRET = "hostile-self-loop-19-secret";

async function run(args: string[]): Promise<{ exit: number; stderr: string }> {
  const child = Bun.spawn([AGENT, ...args], { env: { PATH: process.env.PATH ?? "", TACACSRS_SHARED_SECRET: SECRET }, stdout: "pipe", stderr: "pipe" });
  const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
  const [exit, stderr] = await Promise.all([child.exited, new Response(child.stderr).text()]);
  clearTimeout(timer);
  return { exit, stderr };
}

test("a server resolving to the proxy endpoint is refused at --check-config and at start, in one line", async () => {
  const port = freePort();
  for (const [server, proxy] of [
    [`127.0.0.1:${port}`, `127.0.0.1:${port}`],
    [`localhost:${port}`, `127.0.0.1:${port}`],
    [`127.0.0.1:${port}`, `localhost:${port}`],
  ] as const) {
    for (const mode of [["--check-config"], ["--listen-endpoint", `127.0.0.1:0`]]) {
      const { exit, stderr } = await run(["--server-addr", server, "--proxy-endpoint", proxy, ...mode]);
      expect(exit).toBe(2);
      expect(stderr.trim().split("\n")).toHaveLength(1);
      expect(stderr).toContain(`is this agent's own --proxy-endpoint 127.0.0.1:${port}`);
    }
  }
  // Another port is fine.
  expect((await run(["--server-addr", `127.0.0.1:${port}`, "--proxy-endpoint", `127.0.0.1:${port + 1}`, "--check-config"])).exit).toBe(0);
}, 60_000);
