/**
 * `tacon audit-session register|unregister` with the compiled agent and tacon, as root: a login's
 * audit session (a fresh /proc/self/loginuid) is registered and unregistered; a local user who
 * can reach the API socket is refused by the agent's SO_PEERCRED check (the registration would
 * let them have commands accounted under another TACACS+ user's name).
 */
import { $ } from "bun";
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startAgent, TACON, type AgentProcess } from "../support/agent-process";
import { startTacacsServer, type TestServer } from "../support/tacacs-server";

/** Unique to issue 22's tests. */
const AUID = 61023;
const SECRET = "audit-session-e2e-22";
const isRoot = process.getuid?.() === 0;
/** Whether this test process itself is outside any login's audit session (no login uid). */
const outsideSession = readFileSync("/proc/self/sessionid", "utf8").trim() === "4294967295";

describe.skipIf(!isRoot)(`tacon audit-session${isRoot ? "" : " (skipped: needs root to set a login uid)"}`, () => {
  let server: TestServer;
  let agent: AgentProcess;
  const metricsDir = mkdtempSync(join(tmpdir(), "tacacsrs-22-metrics-"));
  const metrics = join(metricsDir, "metrics.sock");

  beforeAll(async () => {
    server = await startTacacsServer({ key: SECRET });
    // A socket every local user may reach: only the credential check stands in the way.
    agent = await startAgent(["--server-addr", `127.0.0.1:${server.port}`, "--socket-mode", "666", "--metrics-endpoint", metrics], { TACACSRS_SHARED_SECRET: SECRET });
    chmodSync(agent.dir, 0o755);
  }, 30_000);

  afterAll(async () => {
    await agent?.stop();
    await server?.stop();
    rmSync(metricsDir, { recursive: true, force: true });
  });

  /** Runs tacon commands (joined with &&) in a fresh audit session of login uid AUID, as `asUid`. */
  async function inLoginSession(commands: string[][], asUid?: number) {
    const drop = asUid === undefined ? "" : `setpriv --reuid=${asUid} --regid=${asUid} --clear-groups `;
    const who = `--service-endpoint ${agent.socket} --user tacuser23 --port pts/9 --rem-addr 192.0.2.9 --privilege-level 15`;
    const script = commands.map((c) => `${drop}${TACON} ${who} ${c.join(" ")}`).join(" && ");
    const result = await $`sh -c ${`echo ${AUID} > /proc/self/loginuid && ${script}`}`.nothrow().quiet();
    return { exit: result.exitCode, stdout: result.stdout.toString(), stderr: result.stderr.toString() };
  }

  test("root registers its login session and unregisters it; tacon status counts it", async () => {
    const result = await inLoginSession([["audit-session", "register"], ["status"], ["audit-session", "unregister"], ["audit-session", "unregister"]]);
    expect(result.stderr).toBe("");
    expect(result.exit).toBe(0);
    expect(result.stdout).toContain("audit session registered\n");
    expect(result.stdout).toContain("audit: 1 TACACS+ login sessions registered; audit plugin: no report\n");
    expect(result.stdout).toContain("audit session unregistered\naudit session was not registered\n");
  });

  test("a local user who reaches the socket is refused by SO_PEERCRED, and the refusal is counted", async () => {
    const result = await inLoginSession([["audit-session", "register"]], AUID);
    expect(result.exit).toBe(3);
    expect(result.stderr).toContain(`registering an audit session needs root (the caller runs as uid ${AUID})`);
    expect(result.stderr).toContain("PERMISSION_DENIED");
    const status = await agent.tacon(["status", "--json"]);
    expect(JSON.parse(status.stdout).audit).toMatchObject({ sessions: 0, denied: 1 });
  });

  test.skipIf(!outsideSession)("outside a login's audit session tacon says so (usage error)", async () => {
    const result = await agent.tacon(["--user", "x", "audit-session", "register"]);
    expect(result.exit).toBe(2);
    expect(result.stderr).toContain("/proc/self/sessionid is unset");
  });

  test("the metrics endpoint exports the audit session counters (after the tests above)", async () => {
    const text = await (await fetch("http://localhost/metrics", { unix: metrics } as RequestInit)).text();
    expect(text).toContain("tacacsrs_audit_sessions 0\n");
    expect(text).toContain("tacacsrs_audit_session_registrations_total 1\n");
    expect(text).toContain('tacacsrs_audit_session_refusals_total{reason="not_root"} 1\n');
    expect(text).toContain('tacacsrs_audit_plugin_events_total{outcome="accounted"} 0\n');
  });
});
