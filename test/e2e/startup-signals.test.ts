/**
 * Signals during start-up, through the compiled agent: a SIGTERM while the configuration is still
 * loading (a server name whose lookup hangs) takes the clean path, exit 0 and no socket left; a
 * SIGHUP then does not kill it, the reload runs once the agent serves; `--check-config` stopped
 * before its answer fails (143) instead.
 *
 * The slow lookup: the agent runs in a private mount namespace (unshare -m, root) whose
 * /etc/resolv.conf names a DNS server on 127.16.0.53 (an address unique to this test) that never
 * answers. The server shares the TCP proxy endpoint's port, so the self-loop check must resolve it.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startAgent, type AgentProcess } from "../support/agent-process";
import { freeLoopbackPort, until } from "../support/wait";

const DNS_HOST = "127.16.0.53";
const SLOW_NAME = "slow-lookup-p16.example";
const SECRET = "startup-signals-issue16-secret";
const isRoot = process.getuid?.() === 0;
if (!isRoot) console.warn("startup-signals: needs root (a mount namespace for /etc/resolv.conf, port 53): skipping");

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** A DNS server that counts queries and never answers. */
async function silentDns(): Promise<{ queries(): number }> {
  let queries = 0;
  const socket = await Bun.udpSocket({ hostname: DNS_HOST, port: 53, socket: { data: () => void queries++ } });
  cleanups.push(() => socket.close());
  return { queries: () => queries };
}

/** The agent with a resolv.conf naming the silent server; each lookup hangs `timeoutSeconds`. */
async function agentWithSlowLookup(timeoutSeconds: number, extra: string[] = []): Promise<AgentProcess> {
  const dir = mkdtempSync(join(tmpdir(), "tacacsrs-startup16-"));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const resolvConf = join(dir, "resolv.conf");
  writeFileSync(resolvConf, `nameserver ${DNS_HOST}\noptions timeout:${timeoutSeconds} attempts:1\n`);
  const port = freeLoopbackPort();
  // unshare and sh exec the agent: the spawned pid is the agent's.
  const prefix = ["unshare", "-m", "--propagation", "private", "sh", "-c", 'mount --bind "$0" /etc/resolv.conf && exec "$@"', resolvConf];
  const args = ["--server-addr", `${SLOW_NAME}:${port}`, "--proxy-endpoint", `127.0.0.1:${port}`, "--shared-secret", SECRET, ...extra];
  const agent = await startAgent(args, {}, { waitHealthy: false, dir, prefix });
  cleanups.push(() => agent.process.kill("SIGKILL"));
  return agent;
}

/** An agent stuck in its name lookup, sent SIGTERM: its exit status (or "still running" after 10 s) and how long it took. */
async function sigtermDuringLookup(extra: string[] = []): Promise<{ agent: AgentProcess; exited: number | string; ms: number }> {
  const dns = await silentDns();
  const agent = await agentWithSlowLookup(30, extra);
  await until(() => dns.queries() > 0, 10_000, "the agent's name lookup");
  agent.process.kill("SIGTERM");
  const started = Date.now();
  const exited = await Promise.race([agent.process.exited, Bun.sleep(10_000).then(() => "still running")]);
  return { agent, exited, ms: Date.now() - started };
}

describe.skipIf(!isRoot)("signals during start-up", () => {
  test("SIGTERM while a server name is still being looked up: exit 0 at once, no socket left", async () => {
    const { agent, exited, ms } = await sigtermDuringLookup();
    expect({ exited, signal: agent.process.signalCode }).toEqual({ exited: 0, signal: null });
    expect(ms).toBeLessThan(5_000);
    expect(existsSync(agent.socket)).toBe(false);
  }, 30_000);

  test("--check-config stopped before its answer fails (exit 143), so a script never reads it as a valid configuration", async () => {
    const { agent, exited } = await sigtermDuringLookup(["--check-config"]);
    expect({ exited, signal: agent.process.signalCode }).toEqual({ exited: 143, signal: null });
  }, 30_000);

  test("SIGHUP while the configuration loads does not kill the agent: it serves, then reloads once", async () => {
    const dns = await silentDns();
    const agent = await agentWithSlowLookup(2, ["-v"]);
    await until(() => dns.queries() > 0, 10_000, "the agent's name lookup");
    agent.process.kill("SIGHUP");
    const ended = () => agent.process.exitCode !== null || agent.process.signalCode !== null;
    await until(() => ended() || agent.output().includes("configuration reloaded"), 15_000, "the reload");
    expect({ signal: agent.process.signalCode, exit: agent.process.exitCode }).toEqual({ signal: null, exit: null });
    expect(existsSync(agent.socket)).toBe(true);
    expect(await agent.stop()).toBe(0);
    expect(agent.output().split("configuration reloaded").length - 1).toBe(1);
  }, 30_000);
});
