/**
 * Health that tells the truth (issue 16), against the compiled agent and the test server stopped
 * and started again: readiness (tacon health, grpc.health.v1 "") goes NOT_SERVING while no
 * upstream server is responsive and back when one answers; liveness stays SERVING; startup turns
 * SERVING after the warm-up; systemd gets a STATUS= line per change (a real AF_UNIX datagram
 * socket as NOTIFY_SOCKET); the log has one warning per state change, not one per request.
 */
import { afterEach, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startAgent } from "../support/agent-process";
import { havePeer } from "../support/peer";
import { startTacacsServer } from "../support/tacacs-server";

const SECRET = "health-issue16-secret-0123";
const WHO = ["--user", "alice", "--port", "tty0", "--rem-addr", "10.0.0.1"];
const hasPython = havePeer("python3");

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => {});
});

/** A NOTIFY_SOCKET receiver: one line of output per datagram (newlines within shown as "|"). */
const RECEIVER = `
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
print("bound", flush=True)
while True:
    print(s.recv(4096).decode().replace("\\n", "|"), flush=True)
`;

async function notifyReceiver(path: string): Promise<() => string> {
  const child = Bun.spawn(["python3", "-c", RECEIVER, path], { stdout: "pipe", stderr: "inherit" });
  cleanups.push(async () => {
    child.kill();
    await child.exited;
  });
  let text = "";
  const reader = child.stdout.getReader();
  void (async () => {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      text += new TextDecoder().decode(value);
    }
  })();
  while (!text.includes("bound")) await Bun.sleep(10);
  return () => text;
}

test.skipIf(!hasPython)("readiness follows the upstream servers; liveness and startup; systemd STATUS lines; one warning per state change", async () => {
  const dir = mkdtempSync(join(tmpdir(), "tacacsrs-health16-"));
  cleanups.push(async () => rmSync(dir, { recursive: true, force: true }));
  const notified = await notifyReceiver(join(dir, "notify.sock"));
  let server = await startTacacsServer({ key: SECRET });
  cleanups.push(() => server.stop());
  const port = server.port;
  const name = `127.0.0.1:${port}`;
  const agent = await startAgent(["--server-addr", name, "--shared-secret", SECRET, "-v"], { NOTIFY_SOCKET: join(dir, "notify.sock") });
  cleanups.push(() => agent.stop());
  const health = async (...probe: string[]) => {
    const result = await agent.tacon(["health", ...probe]);
    return `${result.exit} ${result.stdout.trim()}`;
  };

  const until = Date.now() + 10_000;
  while ((await health("startup")) !== "0 SERVING" && Date.now() < until) await Bun.sleep(50);
  expect(await health("startup")).toBe("0 SERVING");
  expect(await health()).toBe("0 SERVING");

  await server.stop();
  for (let i = 0; i < 5; i++) expect((await agent.tacon([...WHO, "accounting", "show version"])).exit).toBe(3);
  expect(await health()).toBe("1 NOT_SERVING");
  expect(await health("readiness")).toBe("1 NOT_SERVING");
  expect(await health("liveness")).toBe("0 SERVING");
  const status = await agent.tacon(["status"]);
  expect(status.stdout).toContain("NO_RESPONSIVE_SERVER");

  server = await startTacacsServer({ key: SECRET, port });
  expect((await agent.tacon([...WHO, "accounting", "show version"])).exit).toBe(0);
  expect(await health()).toBe("0 SERVING");
  expect((await agent.tacon(["health", "bogus"])).exit).toBe(2);

  const datagrams = notified().split("\n");
  expect(datagrams).toContain("READY=1|STATUS=starting: connecting to the upstream servers");
  const statuses = datagrams.filter((line) => line.startsWith("STATUS=") && !line.includes("starting"));
  expect(statuses).toEqual([`STATUS=serving via ${name}`, "STATUS=no responsive upstream server", `STATUS=serving via ${name}`]);
  // -v shows warnings: the outage and the return are one line each, not one per failed request.
  const failovers = agent.output().split("\n").filter((line) => line.includes("failover:"));
  expect(failovers).toHaveLength(2);
  expect(failovers[0]).toContain("NoResponsiveServer");
  expect(failovers[1]).toContain(`PreferredActive (${name})`);
}, 60_000);
