/**
 * A real OpenSSH login through `tacon pam`: Debian's sshd on a loopback port with its own PAM
 * service (/etc/pam.d/tacacsrs-test-17-sshd: the lines of the shipped example
 * packaging/examples/pam.d/sshd, with the compiled tacon and a private agent socket and syslog
 * socket), a temporary local user, ssh + sshpass with the right and the wrong TACACS+ password,
 * against the compiled agent and the test server. The PAM file and the user are removed even
 * when the test fails.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { startAgent, TACON, type AgentProcess } from "../support/agent-process";
import { sshdRunnable, sshLogin, startSshd, type Sshd } from "../support/sshd";
import { startSyslogReceiver, type SyslogReceiver } from "../support/syslog-receiver";
import { createSystemUser, type SystemUser } from "../support/system-user";
import { startTacacsServer, type AccountingRecord, type TestServer } from "../support/tacacs-server";
import { until } from "../support/wait";

const SECRET = "pam-17-sshd-secret";
const USER = "tacacsrs-t17s";
const PASSWORD = "t17-Correct-Horse";
const EXAMPLE = new URL("../../packaging/examples/pam.d/sshd", import.meta.url).pathname;

/** The example's PAM lines (comments dropped), pointed at this test's tacon, agent and syslog socket. */
function examplePamLines(example: string, tacon: string): string {
  const lines = readFileSync(example, "utf8").split("\n").filter((line) => line.trim() !== "" && !line.startsWith("#"));
  if (!lines.some((line) => line.includes("/usr/bin/tacon pam"))) throw new Error(`${example} names no /usr/bin/tacon pam`);
  return `${lines.map((line) => line.replace("/usr/bin/tacon pam", tacon)).join("\n")}\n`;
}

describe.skipIf(!sshdRunnable())("an OpenSSH login through tacon pam", () => {
  let server: TestServer;
  let agent: AgentProcess;
  let syslog: SyslogReceiver;
  let user: SystemUser;
  let sshd: Sshd;

  beforeAll(async () => {
    server = await startTacacsServer({ key: SECRET, policy: { users: { [USER]: { password: PASSWORD, privLvl: 1, commands: [], services: { shell: [] } } } } });
    agent = await startAgent(["--server-addr", `127.0.0.1:${server.port}`, "--shared-secret", SECRET]);
    syslog = await startSyslogReceiver();
    user = await createSystemUser(USER);
    const tacon = `${TACON} pam service-endpoint=${agent.socket} log-socket=${syslog.path}`;
    sshd = await startSshd({ pamService: "tacacsrs-test-17-sshd", pam: examplePamLines(EXAMPLE, tacon) });
  }, 30_000);

  afterAll(async () => {
    await sshd?.stop();
    await user?.remove();
    syslog?.stop();
    await agent?.stop();
    await server?.stop();
  });

  const argsOf = (record: AccountingRecord) => Object.fromEntries(record.args.map((a) => [a.name, a.value]));

  test("the right TACACS+ password runs the command; the server saw authentication, authorization, START and STOP with one task_id", async () => {
    const passesBefore = server.counters.authenPasses;
    const authorizationsBefore = server.counters.packetsByType.authorization;
    const recordsBefore = server.records.length;
    const login = await sshLogin({ port: sshd.port, user: USER, password: PASSWORD, command: "echo logged-in-as $(id -un)" });
    expect(login, `${login.stderr}\nsshd:\n${sshd.output()}\nsyslog:\n${syslog.lines().join("\n")}`).toMatchObject({ exit: 0, stdout: `logged-in-as ${USER}\n` });
    expect(server.counters.authenPasses).toBe(passesBefore + 1);
    expect(server.counters.packetsByType.authorization).toBe(authorizationsBefore + 1);
    // sshd closes the PAM session after the command's channel: STOP may follow the client's exit.
    await until(() => server.records.length >= recordsBefore + 2, 10_000, "accounting START and STOP");
    const [start, stop] = server.records.slice(recordsBefore);
    expect(start).toMatchObject({ user: USER, remAddr: "127.0.0.1", flags: 0x02 });
    expect(stop).toMatchObject({ user: USER, remAddr: "127.0.0.1", flags: 0x04 });
    expect(argsOf(start!)).toMatchObject({ service: "shell", protocol: "ssh" });
    expect(argsOf(stop!).task_id).toBe(argsOf(start!).task_id);
    expect(syslog.lines().join("\n")).not.toContain(PASSWORD);
    expect(sshd.output()).not.toContain(PASSWORD);
  }, 60_000);

  test("a wrong password is refused: no command runs, the journal says why", async () => {
    const recordsBefore = server.records.length;
    const login = await sshLogin({ port: sshd.port, user: USER, password: "t17-wrong", command: "echo should-not-run" });
    expect(login.exit).not.toBe(0);
    expect(login.stdout).toBe("");
    await syslog.waitFor(/tacacsrs-test-17-sshd auth: authentication failed for user "tacacsrs-t17s" from 127\.0\.0\.1: .* answered FAIL/);
    expect(server.records.length).toBe(recordsBefore);
  }, 60_000);
});
