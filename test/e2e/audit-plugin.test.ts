/**
 * Command accounting end to end, as root, on loopback: Debian's auditd in the foreground with a
 * private configuration and our compiled plugin, an execve rule for one test login uid only,
 * the compiled agent and the test TACACS+ server. A shell gets the test login uid (a fresh audit
 * session), its session is registered with the agent, and each command it runs must reach the
 * server as one accounting record with the session's TACACS+ user, the command and its args.
 * The kernel's audit state (rules, enabled flag) is restored and auditd stopped even on failure.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { callUnary } from "../../src/api/client";
import { startAgent, type AgentProcess } from "../support/agent-process";
import { auditUnavailable, spawnAuditedShell, startAuditd, type Auditd } from "../support/auditd";
import { startTacacsServer, type TestServer } from "../support/tacacs-server";
import { until } from "../support/wait";

const root = new URL("../..", import.meta.url).pathname;
const PLUGIN = `${root}dist/tacacsrs-audit-plugin`;
const SECRET = "audit-e2e-secret-22";
/** Unique to this test (issue 22): no other test audits this login uid or uses this key. */
const AUID = 61022;
const KEY = "tacacsrs-test-22";

const unavailable = await auditUnavailable();
if (unavailable && process.env.CI === "true") throw new Error(`audit plugin end-to-end test cannot run in CI: ${unavailable}`);

describe.skipIf(unavailable !== undefined)(`audit plugin with the real auditd${unavailable ? ` (skipped: ${unavailable})` : ""}`, () => {
  let server: TestServer;
  let agent: AgentProcess;
  let auditd: Auditd | undefined;

  beforeAll(async () => {
    server = await startTacacsServer({ key: SECRET });
    agent = await startAgent(["--server-addr", `127.0.0.1:${server.port}`], { TACACSRS_SHARED_SECRET: SECRET });
    auditd = await startAuditd({
      key: KEY,
      auid: AUID,
      // auditd passes at most two arguments: the options in the compact form.
      plugin: { path: PLUGIN, args: [`service-endpoint=${agent.socket},key=${KEY},report-interval-seconds=1`] },
    });
  }, 30_000);

  afterAll(async () => {
    await auditd?.stop();
    await agent?.stop();
    await server?.stop();
  });

  /** Runs `script` in a fresh audit session; `register` decides what the agent knows of it first. */
  async function runSession(script: string, register: (ses: number) => Promise<void>): Promise<number> {
    const shell = spawnAuditedShell(AUID, script);
    const reader = shell.stdout.getReader();
    let out = "";
    while (!out.includes("\n")) {
      const { value, done } = await reader.read();
      if (done) break;
      out += new TextDecoder().decode(value);
    }
    const ses = Number(out.trim().split("\n")[0]);
    expect(ses).toBeGreaterThan(0);
    // The exec of cat (which printed the id) must be clearly before the registration: audit times
    // may lag by a clock tick (AUDIT_CLOCK_SLACK_MS), within which an exec counts as after.
    await Bun.sleep(50);
    await register(ses);
    shell.stdin.write("go\n");
    shell.stdin.end();
    expect(await shell.exited).toBe(0);
    return ses;
  }

  const api = (method: Parameters<typeof callUnary>[1], request: object) => callUnary({ kind: "unix", path: agent.socket }, method, request, 5000);
  const recordsOf = (user: string) => server.records.filter((r) => r.user === user);
  const argsOf = (record: TestServer["records"][number]) => record.args.map((a) => `${a.name}=${a.value}`);

  test(
    "each command of a registered session reaches the server once, with the session's user, tty, address, cmd and args",
    async () => {
      const ses = await runSession("/bin/echo hello 'two words' > /dev/null; /bin/true; /usr/bin/printf %s été > /dev/null", async (id) => {
        await api("RegisterAuditSession", { session: { sessionId: id, loginUid: AUID, user: "tacuser22", port: "pts/22", remoteAddress: "192.0.2.22", privilegeLevel: 15, taskBase: "e2e22" } });
      });
      // The exec before the registration (cat) is not the session's; after it come setpriv, the
      // shell and the three commands.
      await until(() => recordsOf("tacuser22").length >= 5, 20_000, "5 accounting records of tacuser22");
      await Bun.sleep(500);
      const records = recordsOf("tacuser22");
      expect(records.length).toBe(5);
      for (const record of records) expect(record).toMatchObject({ port: "pts/22", remAddr: "192.0.2.22", privLvl: 15, flags: 0x04 /* STOP */ });
      const commands = records.map((r) => argsOf(r).filter((a) => a.startsWith("cmd")));
      expect(commands).toContainEqual(["cmd=/bin/echo", "cmd-arg=hello", "cmd-arg=two words"]);
      expect(commands).toContainEqual(["cmd=/bin/true"]);
      expect(commands).toContainEqual(["cmd=/usr/bin/printf", "cmd-arg=%s", "cmd-arg=été"]);
      const taskIds = records.map((r) => argsOf(r).find((a) => a.startsWith("task_id="))!);
      expect(commands.flat().filter((arg) => arg.startsWith("cmd=")).sort()).toEqual(["cmd=/bin/echo", "cmd=/bin/sh", "cmd=/bin/true", "cmd=/usr/bin/printf", "cmd=setpriv"]);
      expect(new Set(taskIds).size).toBe(5);
      for (const taskId of taskIds) expect(taskId).toMatch(/^task_id=e2e22-\d+$/);
      for (const record of records) expect(argsOf(record)).toContain("service=shell");
      expect((await api("UnregisterAuditSession", { sessionId: ses })).found).toBe(true);
    },
    60_000,
  );

  test(
    "commands of an unregistered session are skipped (no fallback configured), and the counters say so in tacon status",
    async () => {
      const before = server.records.length;
      const skipped = async () => {
        const status = (await agent.tacon(["status"])).stdout;
        return { status, skipped: Number(/(\d+) skipped/.exec(status)?.[1] ?? -1) };
      };
      const skippedBefore = (await skipped()).skipped;
      await runSession("/bin/true unregistered", async () => {});
      // cat, setpriv, the shell and /bin/true: four more skipped execs, reported within a second.
      const deadline = Date.now() + 15_000;
      let now = await skipped();
      while (now.skipped < skippedBefore + 4 && Date.now() < deadline) {
        await Bun.sleep(250);
        now = await skipped();
      }
      expect(now.status).toMatch(/audit plugin \(reported \d+ s ago\): \d+ events read, 5 accounted, \d+ skipped, 0 dropped, 0 malformed, 0 failed/);
      expect(now.skipped).toBeGreaterThanOrEqual(skippedBefore + 4);
      expect(server.records.length).toBe(before);
    },
    30_000,
  );

  test(
    "records=start-stop with exit_group in the rules: a START per command and a STOP with its task_id when it ends",
    async () => {
      await auditd?.stop();
      auditd = undefined;
      auditd = await startAuditd({
        key: KEY,
        auid: AUID,
        syscalls: ["execve", "exit_group"],
        plugin: { path: PLUGIN, args: [`service-endpoint=${agent.socket},key=${KEY},report-interval-seconds=1,records=start-stop`] },
      });
      await runSession("/bin/true start-stop; /bin/sh -c 'exit 7'; true", async (id) => {
        await api("RegisterAuditSession", { session: { sessionId: id, loginUid: AUID, user: "tacuser22s", port: "pts/23", remoteAddress: "192.0.2.23", privilegeLevel: 15, taskBase: "e2e22s" } });
      });
      // setpriv (ended by its exec of the shell), the shell, /bin/true and sh -c: a START and a STOP each.
      await until(() => recordsOf("tacuser22s").length >= 8, 20_000, "8 accounting records of tacuser22s").catch(async (error: Error) => {
        const seen = recordsOf("tacuser22s").map((r) => `${r.flags} ${argsOf(r).filter((a) => /^(cmd|task_id)=/.test(a)).join(" ")}`);
        throw new Error(`${error.message}; received: ${JSON.stringify(seen)}; ${(await agent.tacon(["status"])).stdout.split("\n").at(-2)}`);
      });
      await Bun.sleep(500);
      const records = recordsOf("tacuser22s");
      expect(records.length).toBe(8);
      const byTask = new Map<string, number[]>();
      for (const record of records) {
        const taskId = argsOf(record).find((a) => a.startsWith("task_id="))!;
        byTask.set(taskId, [...(byTask.get(taskId) ?? []), record.flags]);
      }
      expect(byTask.size).toBe(4);
      for (const flags of byTask.values()) expect(flags.sort()).toEqual([0x02 /* START */, 0x04 /* STOP */]);
      const stops = records.filter((r) => r.flags === 0x04);
      for (const stop of stops) expect(argsOf(stop).some((a) => a.startsWith("stop_time="))).toBe(true);
      expect(stops.map((r) => argsOf(r).find((a) => a.startsWith("cmd="))).sort()).toEqual(["cmd=/bin/sh", "cmd=/bin/sh", "cmd=/bin/true", "cmd=setpriv"]);
    },
    60_000,
  );
});
