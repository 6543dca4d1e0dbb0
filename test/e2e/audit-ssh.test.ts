/**
 * Command accounting of a real OpenSSH login, end to end, as root: Debian's sshd with a PAM
 * service whose session stack runs pam_loginuid and then `tacon pam` (which registers the
 * login's audit session with the agent), Debian's auditd with our compiled plugin and an execve
 * rule for the test user's login uid only, the compiled agent and the test TACACS+ server. The
 * command the user runs over ssh must reach the server as an accounting record of that TACACS+
 * user with its cmd and args. PAM file, user, audit rules and auditd are removed even on failure.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { startAgent, TACON, type AgentProcess } from "../support/agent-process";
import { auditUnavailable, startAuditd, type Auditd } from "../support/auditd";
import { sshdRunnable, sshLogin, startSshd, type Sshd } from "../support/sshd";
import { createSystemUser, type SystemUser } from "../support/system-user";
import { startTacacsServer, type AccountingRecord, type TestServer } from "../support/tacacs-server";
import { until } from "../support/wait";

const root = new URL("../..", import.meta.url).pathname;
const PLUGIN = `${root}dist/tacacsrs-audit-plugin`;
const SECRET = "audit-ssh-22-secret";
/** Unique to issue 22: test user, PAM service and audit key. */
const USER = "tacacsrs-t22a";
const PASSWORD = "t22-Audit-Staple";
const KEY = "tacacsrs-test-22-ssh";

const audit = await auditUnavailable();
if (audit && process.env.CI === "true") throw new Error(`audit ssh end-to-end test cannot run in CI: ${audit}`);
const runnable = audit === undefined && sshdRunnable();

describe.skipIf(!runnable)(`command accounting of an OpenSSH login${audit ? ` (skipped: ${audit})` : ""}`, () => {
  let server: TestServer;
  let agent: AgentProcess;
  let user: SystemUser;
  let sshd: Sshd;
  let auditd: Auditd;

  beforeAll(async () => {
    server = await startTacacsServer({ key: SECRET, policy: { users: { [USER]: { password: PASSWORD, privLvl: 15, commands: [], services: { shell: [] } } } } });
    agent = await startAgent(["--server-addr", `127.0.0.1:${server.port}`, "--shared-secret", SECRET]);
    user = await createSystemUser(USER);
    const tacon = `${TACON} pam service-endpoint=${agent.socket} privilege-level=15`;
    // The shipped example's lines, with pam_loginuid first in the session stack (as Debian's sshd has it).
    const pam = [
      `auth     required  pam_exec.so expose_authtok quiet ${tacon}`,
      "auth     optional  pam_permit.so",
      `account  required  pam_exec.so quiet ${tacon} service=shell protocol=ssh`,
      "session  required  pam_loginuid.so",
      `session  required  pam_exec.so quiet ${tacon} service=shell protocol=ssh`,
      "",
    ].join("\n");
    sshd = await startSshd({ pamService: "tacacsrs-test-22-sshd", pam });
    auditd = await startAuditd({ key: KEY, auid: user.uid, plugin: { path: PLUGIN, args: [`service-endpoint=${agent.socket},key=${KEY}`] } });
  }, 60_000);

  afterAll(async () => {
    await auditd?.stop();
    await sshd?.stop();
    await user?.remove();
    await agent?.stop();
    await server?.stop();
  });

  const argsOf = (record: AccountingRecord) => record.args.map((a) => `${a.name}=${a.value}`);

  test(
    "the command run over ssh is accounted under the TACACS+ user, with its args; the session's own PAM helper is not",
    async () => {
      const login = await sshLogin({ port: sshd.port, user: USER, password: PASSWORD, command: "/bin/echo audit-22 'two words'" });
      expect(login.stdout).toBe("audit-22 two words\n");
      const isEcho = (r: AccountingRecord) => argsOf(r).includes("cmd=/bin/echo");
      await until(() => server.records.some(isEcho), 20_000, "the accounting record of /bin/echo").catch(async (error: Error) => {
        throw new Error(`${error.message}; records: ${JSON.stringify(server.records.map(argsOf))}; ${(await agent.tacon(["status"])).stdout.split("\n").at(-2)}`);
      });
      const echo = server.records.find(isEcho)!;
      expect(echo).toMatchObject({ user: USER, remAddr: "127.0.0.1", privLvl: 15 });
      expect(argsOf(echo)).toEqual(expect.arrayContaining(["service=shell", "cmd=/bin/echo", "cmd-arg=audit-22", "cmd-arg=two words"]));
      // The task_id starts with the login session's own (tacon pam's START record).
      const sessionStart = server.records.find((r) => r.flags === 0x02 && argsOf(r).includes("service=shell") && !argsOf(r).some((a) => a.startsWith("cmd=")));
      const sessionTask = argsOf(sessionStart!).find((a) => a.startsWith("task_id="))!;
      expect(argsOf(echo).find((a) => a.startsWith("task_id="))).toStartWith(`${sessionTask}-`);
      // tacon pam itself ran in the session before it registered it: never a command record.
      expect(server.records.some((r) => argsOf(r).some((a) => a.startsWith("cmd=") && a.includes("tacon")))).toBe(false);
      // close_session removed the registration (sshd closes the PAM session after the command).
      const deadline = Date.now() + 10_000;
      let status = "";
      while (!status.includes("audit: 0 TACACS+ login sessions registered") && Date.now() < deadline) {
        status = (await agent.tacon(["status"])).stdout;
        await Bun.sleep(100);
      }
      expect(status).toContain("audit: 0 TACACS+ login sessions registered");
      expect(status).toMatch(/audit plugin \(reported \d+ s ago\)|audit plugin: no report/);
    },
    60_000,
  );
});
