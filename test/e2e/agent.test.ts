/**
 * The compiled agent and tacon on loopback against the fault-injecting test servers: the
 * reference README's Quick Start verbatim, every tacon command and exit status, failover and
 * return to the preferred server, SIGHUP reload, SIGTERM, the socket's mode and ownership rules.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startAgent, type AgentProcess } from "../support/agent-process";
import { startTacacsServer, type TestServer } from "../support/tacacs-server";

const SECRET = "e2e-shared-secret-0xC0FFEE";
const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => {});
});

async function server(port = 0): Promise<TestServer> {
  const s = await startTacacsServer({ key: SECRET, port });
  cleanups.push(() => s.stop());
  return s;
}

async function agent(args: string[], env: Record<string, string> = {}): Promise<AgentProcess> {
  const a = await startAgent(args, env);
  cleanups.push(() => a.stop());
  return a;
}

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "tacacsrs-e2e-"));
  cleanups.push(async () => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

const addr = (s: TestServer) => `127.0.0.1:${s.port}`;
const WHO = ["--user", "alice", "--port", "tty0", "--rem-addr", "10.0.0.1"];

describe("tacon through the agent", () => {
  test("the reference Quick Start, verbatim but for loopback addresses and temp paths", async () => {
    const [one, two] = [await server(), await server()];
    const dir = tempDir();
    const proxy = join(dir, "tacacs-proxy.sock");
    const quick = await agent([
      "--server-addr", addr(one), "--server-addr", addr(two),
      "--listen-endpoint", join(dir, "tacacs.sock"), "--proxy-endpoint", proxy, "--shared-secret", SECRET,
    ]);
    const reply = await quick.tacon(["--user", "admin", "--port", "tty0", "--rem-addr", "10.0.0.1", "accounting", "show version"]);
    expect(reply).toMatchObject({ exit: 0 });
    expect(reply.stdout).toContain(`SUCCESS from ${addr(one)}`);
    const record = one.records.at(-1)!;
    expect(record.user).toBe("admin");
    expect(record.args.map((a) => `${a.name}=${a.value}`)).toEqual(expect.arrayContaining(["service=shell", "cmd=show", "cmd-arg=version"]));
    expect(existsSync(proxy)).toBe(true);
  });

  test("authorization, authentication and their exit statuses", async () => {
    const one = await server();
    const a = await agent(["--server-addr", addr(one)], { TACACSRS_SHARED_SECRET: SECRET });
    expect((await a.tacon([...WHO, "authorization", "show version"])).exit).toBe(0);
    const denied = await a.tacon([...WHO, "authorization", "show", "running-config"]);
    expect(denied.exit).toBe(1);
    expect(denied.stdout).toContain("FAIL");
    expect((await a.tacon([...WHO, "authentication"], { TACON_PASSWORD: "alicepw" })).exit).toBe(0);
    expect((await a.tacon([...WHO, "authentication", "--password-stdin"], {}, "alicepw\n")).exit).toBe(0);
    expect((await a.tacon([...WHO, "authentication", "--password-stdin"], {}, "wrong\n")).exit).toBe(1);
    const json = await a.tacon([...WHO, "--json", "accounting", "show version"]);
    expect(JSON.parse(json.stdout).response.status).toBe("ACCOUNTING_STATUS_SUCCESS");
    expect((await a.tacon(["--user", "alice", "frobnicate"])).exit).toBe(2);
    expect((await a.tacon(["--user", "alice", "--privilege-level", "16", "authorization", "x"])).exit).toBe(2);
    expect((await a.tacon([...WHO, "--authentication-context", "kerberos", "authorization", "x"])).exit).toBe(2);
    expect((await a.tacon([...WHO, "--authentication-context", "ascii", "authorization", "show version"])).exit).toBe(0);
    expect(a.output()).not.toContain(SECRET);
    expect(a.output()).not.toContain("alicepw");
  });

  test("no reachable server: exit 3 with a retriable error naming the server", async () => {
    const gone = await server();
    const port = gone.port;
    await gone.stop();
    const a = await agent(["--server-addr", `127.0.0.1:${port}`, "--connect-timeout-seconds", "1"], { TACACSRS_SHARED_SECRET: SECRET });
    const reply = await a.tacon([...WHO, "accounting", "show version"]);
    expect(reply.exit).toBe(3);
    expect(reply.stderr).toContain(`127.0.0.1:${port}`);
    expect(reply.stderr).toContain("retriable");
  });

  test("fails over in order and returns to the preferred server after a probe", async () => {
    const preferred = await server();
    const backup = await server();
    const port = preferred.port;
    const a = await agent(
      ["--server-addr", addr(preferred), "--server-addr", addr(backup), "--preferred-probe-interval-seconds", "1", "--connect-timeout-seconds", "1"],
      { TACACSRS_SHARED_SECRET: SECRET },
    );
    expect((await a.tacon([...WHO, "accounting", "show version"])).stdout).toContain(`from ${addr(preferred)}`);
    await preferred.stop();
    expect((await a.tacon([...WHO, "accounting", "show version"])).stdout).toContain(`from ${addr(backup)}`);
    expect((await a.tacon(["status"])).stdout).toContain("failover state: FAILED_OVER");
    const revived = await server(port);
    const until = Date.now() + 5_000;
    let status = "";
    while (Date.now() < until && !status.includes("PREFERRED_ACTIVE")) {
      await Bun.sleep(200);
      status = (await a.tacon(["status"])).stdout;
    }
    expect(status).toContain("failover state: PREFERRED_ACTIVE");
    expect((await a.tacon([...WHO, "accounting", "show version"])).stdout).toContain(`from 127.0.0.1:${port}`);
    expect(revived.records.length).toBe(1);
  });
});

describe("daemon lifecycle", () => {
  test("the socket gets --socket-mode; a second agent on the same socket refuses to start; SIGTERM removes it", async () => {
    const one = await server();
    const a = await agent(["--server-addr", addr(one), "--socket-mode", "600"], { TACACSRS_SHARED_SECRET: SECRET });
    expect(statSync(a.socket).mode & 0o777).toBe(0o600);
    const second = await startAgent(["--server-addr", addr(one), "--listen-endpoint", a.socket], {}, { waitHealthy: false });
    expect(await second.process.exited).toBe(1);
    await second.stop();
    expect(second.output()).toMatch(/in use|already|listening/i);
    expect((await a.tacon(["health"])).exit).toBe(0);
    expect(await a.stop()).toBe(0);
    expect(existsSync(a.socket)).toBe(false);
  });

  test("SIGHUP applies a new server list and keeps the old one when the new file is bad", async () => {
    const first = await server();
    const second = await server();
    const yang = (s: TestServer) =>
      JSON.stringify({
        "ietf-system-tacacs-plus:tacacs-plus": { server: [{ name: "only", "server-type": "authentication authorization accounting", address: "127.0.0.1", port: s.port, "shared-secret": SECRET }] },
      });
    const config = join(tempDir(), "tacacs.json");
    writeFileSync(config, yang(first));
    const a = await agent(["--config", config]);
    expect((await a.tacon([...WHO, "accounting", "show version"])).stdout).toContain("SUCCESS from only");
    writeFileSync(config, yang(second));
    a.process.kill("SIGHUP");
    const until = Date.now() + 5_000;
    while (second.records.length === 0 && Date.now() < until) {
      await a.tacon([...WHO, "accounting", "show version"]);
      await Bun.sleep(100);
    }
    expect(second.records.length).toBeGreaterThan(0);
    writeFileSync(config, "{ not json");
    a.process.kill("SIGHUP");
    await Bun.sleep(300);
    expect(a.output()).toContain("reload rejected");
    const before = second.records.length;
    expect((await a.tacon([...WHO, "accounting", "show version"])).exit).toBe(0);
    expect(second.records.length).toBe(before + 1);
    expect(a.output()).not.toContain(SECRET);
  });

  test("bad flags: one clear line and exit 2, no stack trace", async () => {
    const bad = await startAgent(["--server-addr", "127.0.0.1:99999"], {}, { waitHealthy: false });
    expect(await bad.process.exited).toBe(2);
    await bad.stop();
    expect(bad.output().trim().split("\n")).toHaveLength(1);
    expect(bad.output()).toContain("--server-addr");
    expect(bad.output()).not.toMatch(/\n\s+at /);
  });
});
