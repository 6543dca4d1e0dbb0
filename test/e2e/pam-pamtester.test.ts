/**
 * `tacon pam` under Linux-PAM's own pam_exec, driven by pamtester (Debian), against the compiled
 * agent and the test TACACS+ server: a private PAM service /etc/pam.d/tacacsrs-test-17-pamtester
 * (removed even when a test fails), failure lines caught on a private syslog socket.
 */
import { $ } from "bun";
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { startAgent, TACON, type AgentProcess } from "../support/agent-process";
import { installPamService, type PamService } from "../support/pam-service";
import { havePeer } from "../support/peer";
import { startSyslogReceiver, type SyslogReceiver } from "../support/syslog-receiver";
import { DEFAULT_POLICY, startTacacsServer, type TestServer } from "../support/tacacs-server";

const SECRET = "pam-17-shared-secret";
const PASSWORD = "alicepw";
/** alice may start a shell; carol may log in but not start one. */
const POLICY = { users: { ...DEFAULT_POLICY.users, carol: { password: "carolpw", privLvl: 1, commands: [], services: {} } } };

function runnable(): boolean {
  if (!havePeer("pamtester")) return false;
  if (process.getuid?.() === 0) return true;
  if (process.env.CI === "true") throw new Error("the pam tests need root (/etc/pam.d)");
  console.warn("pam tests need root (/etc/pam.d): skipping");
  return false;
}

describe.skipIf(!runnable())("tacon pam under pam_exec (pamtester)", () => {
  let server: TestServer;
  let agent: AgentProcess;
  let syslog: SyslogReceiver;
  let service: PamService;

  /** The PAM file: one pam_exec line per phase with `tacon pam` and these options. */
  const pamFile = (options: string, socket = agent.socket) => {
    const tacon = `${TACON} pam service-endpoint=${socket} log-socket=${syslog.path} ${options}`;
    return [`auth required pam_exec.so expose_authtok quiet ${tacon}`, `account required pam_exec.so quiet ${tacon}`, `session required pam_exec.so quiet ${tacon}`, ""].join("\n");
  };

  async function pamtester(user: string, operations: string[], stdin = "", items: string[] = ["tty=pts/7", "rhost=192.0.2.17"]) {
    const started = performance.now();
    const result = await $`pamtester ${items.flatMap((item) => ["-I", item])} ${service.name} ${user} ${operations} < ${new Response(stdin)}`.nothrow().quiet();
    return { exit: result.exitCode, output: result.stdout.toString() + result.stderr.toString(), ms: performance.now() - started };
  }

  beforeAll(async () => {
    server = await startTacacsServer({ key: SECRET, policy: POLICY });
    agent = await startAgent(["--server-addr", `127.0.0.1:${server.port}`, "--shared-secret", SECRET, "--request-timeout-seconds", "5"]);
    syslog = await startSyslogReceiver();
    service = installPamService("tacacsrs-test-17-pamtester", "");
  });

  afterAll(async () => {
    service?.remove();
    syslog?.stop();
    await agent?.stop();
    await server?.stop();
  });

  test("auth: the right password passes, a wrong one fails with a log line; the password is never logged", async () => {
    service.write(pamFile(""));
    expect((await pamtester("alice", ["authenticate"], `${PASSWORD}\n`)).exit).toBe(0);
    expect((await pamtester("alice", ["authenticate"], "wrong\n")).exit).not.toBe(0);
    expect(await syslog.waitFor(/authentication failed for user "alice" from 192\.0\.2\.17: .* answered FAIL/)).toMatch(/^<85>\w{3} [ \d]\d \d\d:\d\d:\d\d tacon-pam\[\d+\]: tacacsrs-test-17-pamtester auth: .*\(exit 1\)$/);
    expect(server.counters.authenPasses).toBeGreaterThanOrEqual(1);
    expect(syslog.lines().join("\n")).not.toContain(PASSWORD);
    expect(agent.output()).not.toContain(PASSWORD);
  }, 30_000);

  test("auth with login=ascii: START, GETPASS, CONTINUE", async () => {
    service.write(pamFile("login=ascii"));
    const before = server.counters.authenPasses;
    expect((await pamtester("alice", ["authenticate"], `${PASSWORD}\n`)).exit).toBe(0);
    expect(server.counters.authenPasses).toBe(before + 1);
    expect((await pamtester("alice", ["authenticate"], "wrong\n")).exit).not.toBe(0);
  }, 30_000);

  test("account: service=shell protocol=ssh is permitted for alice, denied for carol", async () => {
    service.write(pamFile(""));
    expect((await pamtester("alice", ["acct_mgmt"])).exit).toBe(0);
    expect((await pamtester("carol", ["acct_mgmt"])).exit).not.toBe(0);
    await syslog.waitFor(/authorization of service=shell denied for user "carol" .* answered FAIL/);
  }, 30_000);

  test("open/close session: accounting START and STOP with one task_id, service, protocol, tty, address, times", async () => {
    service.write(pamFile("protocol=ssh"));
    const first = server.records.length;
    const before = Math.floor(Date.now() / 1000);
    const result = await pamtester("alice", ["open_session", "close_session"]);
    expect(result.exit).toBe(0);
    const [start, stop] = server.records.slice(first);
    const args = (record: typeof start) => Object.fromEntries(record!.args.map((a) => [a.name, a.value]));
    expect(start).toMatchObject({ user: "alice", port: "pts/7", remAddr: "192.0.2.17", flags: 0x02 });
    expect(stop).toMatchObject({ user: "alice", port: "pts/7", remAddr: "192.0.2.17", flags: 0x04 });
    expect(args(start)).toMatchObject({ service: "shell", protocol: "ssh" });
    expect(args(start).cmd).toBeUndefined();
    expect(args(start).task_id).toMatch(/^[0-9a-f]{8}-\d+-\d+$/);
    expect(args(stop).task_id).toBe(args(start).task_id);
    expect(Number(args(start).start_time)).toBeGreaterThanOrEqual(before);
    expect(Number(args(stop).stop_time)).toBeGreaterThanOrEqual(Number(args(start).start_time));
    // Another pamtester process is another session: another task_id.
    await pamtester("alice", ["open_session"]);
    expect(args(server.records.at(-1)).task_id).not.toBe(args(start).task_id);
  }, 30_000);

  test("agent unreachable: auth fails closed at once; accounting is best-effort unless required", async () => {
    service.write(pamFile("timeout=3", `${agent.dir}/no-agent.sock`));
    const auth = await pamtester("alice", ["authenticate"], `${PASSWORD}\n`);
    expect(auth.exit).not.toBe(0);
    expect(auth.ms).toBeLessThan(3_000);
    await syslog.waitFor(/auth: fail closed: the agent is unreachable: .*no-agent\.sock.*\(exit 3\)/);
    expect((await pamtester("alice", ["open_session"])).exit).toBe(0);
    await syslog.waitFor(/open_session: accounting START of user "alice" .* failed: .*the session goes on \(accounting=best-effort\) \(exit 0\)/);
    service.write(pamFile("accounting=required", `${agent.dir}/no-agent.sock`));
    expect((await pamtester("alice", ["open_session"])).exit).not.toBe(0);
  }, 30_000);

  test("upstream down: the agent answers with a service error and auth fails closed", async () => {
    service.write(pamFile("timeout=5"));
    // Refuse new connections and drop the agent's open one.
    server.setFaults({ refuse: true });
    server.resetConnections();
    try {
      const auth = await pamtester("alice", ["authenticate"], `${PASSWORD}\n`);
      expect(auth.exit).not.toBe(0);
      expect(auth.ms).toBeLessThan(5_000);
      await syslog.waitFor(/auth: fail closed: the agent found no TACACS\+ server to answer: .*\(exit 3\)/);
    } finally {
      server.setFaults({ refuse: false });
    }
  }, 30_000);

  test("an upstream that never answers: the hard timeout ends the phase on time (exit 4)", async () => {
    service.write(pamFile("timeout=1.5"));
    server.setFaults({ blackHole: true });
    try {
      const auth = await pamtester("alice", ["authenticate"], `${PASSWORD}\n`);
      expect(auth.exit).not.toBe(0);
      // pamtester's own start and the machine's load on top of the 1.5 s bound.
      expect(auth.ms).toBeGreaterThanOrEqual(1_400);
      expect(auth.ms).toBeLessThan(4_000);
      await syslog.waitFor(/auth: fail closed: no answer from the agent at .* within timeout=1\.5 s \(exit 4\)/);
    } finally {
      server.setFaults({ blackHole: false });
      server.resetConnections();
    }
  }, 30_000);

  test("bad options and contexts: a failure and one clear log line, never a hang", async () => {
    service.write(pamFile("sevice=shell"));
    const bad = await pamtester("alice", ["acct_mgmt"]);
    expect(bad.exit).not.toBe(0);
    expect(bad.ms).toBeLessThan(5_000);
    await syslog.waitFor(/bad option on the PAM line: unknown option "sevice=shell" \(expected name=value, names: .*\) \(exit 2\)/);
    service.write(pamFile("timeout=forever"));
    expect((await pamtester("alice", ["acct_mgmt"])).exit).not.toBe(0);
    await syslog.waitFor(/timeout=forever: expected seconds/);
    // auth without expose_authtok: no password on stdin.
    service.write(`auth required pam_exec.so quiet ${TACON} pam service-endpoint=${agent.socket} log-socket=${syslog.path}\n`);
    expect((await pamtester("alice", ["authenticate"])).exit).not.toBe(0);
    await syslog.waitFor(/no password on stdin: pam_exec needs "expose_authtok"/);
  }, 30_000);

  test("by hand, outside pam_exec: PAM_TYPE missing is a usage error", async () => {
    const result = await $`${TACON} pam log-socket=${syslog.path}`.env({ PATH: process.env.PATH ?? "" }).nothrow().quiet();
    expect(result.exitCode).toBe(2);
    expect(result.stderr.toString()).toContain("PAM_TYPE is not set: tacon pam runs under pam_exec(8)");
  });
});
