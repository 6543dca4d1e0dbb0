/**
 * Issue 18: a real OpenSSH login whose login shell is tacacs-session (test/support/sshd.ts of
 * issue 17): `ssh user@127.0.0.1 'id; ls /'` with `id` denied by the server → the ls output is
 * there, id is refused, and ls is accounted with the session's user and SSH address. A login
 * shell takes no flags, so the settings are the product's file, /etc/tacacsrs-agentd/session.conf:
 * the test writes it only when it does not exist, and removes it (and the user) at the end.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, rmdirSync, rmSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { DEFAULT_CONFIG_FILE } from "../../src/session/options";
import { onExitCleanup } from "../support/exit-cleanup";
import { recordArgs, SESSION, startSessionStack, type SessionStack } from "../support/session-process";
import { sshdRunnable, sshLogin, startSshd, type Sshd } from "../support/sshd";
import { createSystemUser, type SystemUser } from "../support/system-user";

const USER = "tacacsrs-t18-session";
const PAM = "auth required pam_permit.so\naccount required pam_permit.so\nsession required pam_permit.so\n";

/** Writes the settings file if nobody else's is there; returns its removal. */
function writeSettings(content: string): () => void {
  if (existsSync(DEFAULT_CONFIG_FILE)) throw new Error(`${DEFAULT_CONFIG_FILE} exists (an installed package?): not overwriting it`);
  const createdDir = !existsSync(dirname(DEFAULT_CONFIG_FILE));
  mkdirSync(dirname(DEFAULT_CONFIG_FILE), { recursive: true });
  writeFileSync(DEFAULT_CONFIG_FILE, content, { mode: 0o644 });
  const remove = () => {
    rmSync(DEFAULT_CONFIG_FILE, { force: true });
    if (createdDir) rmdirSync(dirname(DEFAULT_CONFIG_FILE));
  };
  const cancel = onExitCleanup(remove);
  return () => {
    cancel();
    remove();
  };
}

describe.skipIf(!sshdRunnable())("tacacs-session as the login shell of an sshd user", () => {
  const cleanups: (() => Promise<void> | void)[] = [];
  afterAll(async () => {
    for (const cleanup of cleanups.reverse()) await Promise.resolve(cleanup()).catch(() => {});
  });

  test("ssh user@127.0.0.1 'id; ls /' with id denied: ls runs and is accounted, id is refused", async () => {
    const stack: SessionStack = await startSessionStack(["/usr/bin/ls *"], { sharedWithUsers: true, users: [USER] });
    cleanups.push(() => stack.stop());
    const user: SystemUser = await createSystemUser(USER, { shell: SESSION });
    cleanups.push(() => user.remove());
    cleanups.push(writeSettings(`--service-endpoint ${stack.socket}\n--shell /bin/bash\n`));
    const sshd: Sshd = await startSshd({ pamService: "tacacsrs-test-18-session", pam: PAM });
    cleanups.push(() => sshd.stop());

    const before = stack.server.records.length;
    const login = await sshLogin({ port: sshd.port, user: user.name, password: "unused", command: "id; ls /" });
    expect(login.stdout, `${login.stderr}\n${sshd.output()}`).toContain("usr\n");
    expect(login.stdout).not.toContain("uid=");
    expect(login.stderr).toContain("tacacs-session: /usr/bin/id: denied: command not permitted");
    expect(login.exit).toBe(0);
    const records = stack.server.records.slice(before);
    expect(records.map((r) => recordArgs(r).find((a) => a.startsWith("cmd=")))).toEqual(["cmd=/usr/bin/ls", "cmd=/usr/bin/ls"]);
    expect(records[0]).toMatchObject({ user: USER, remAddr: "127.0.0.1" });
    expect(recordArgs(records[1]!)).toContain("status=0");
  }, 60_000);
});

describe.skipIf(!sshdRunnable())("tacacs-session started as root (a PAM or wrapper start)", () => {
  test("--run-as drops to the user before the shell runs, still supervised", async () => {
    const stack = await startSessionStack(["/usr/bin/id *"], { sharedWithUsers: true });
    const user = await createSystemUser("tacacsrs-t18-runas");
    try {
      const run = await stack.run(["--shell", "/bin/sh", "--run-as", user.name, "-c", "id -un; id -u; echo home=$HOME; ls /"]);
      expect(run.stdout, run.stderr).toBe(`${user.name}\n${user.uid}\nhome=${user.home}\n`);
      expect(run.stderr).toContain("tacacs-session: /usr/bin/ls: denied");
      const refused = await stack.run(["--run-as", "tacacsrs-t18-nobody-here", "-c", ":"]);
      expect(refused).toMatchObject({ exit: 2 });
      expect(refused.stderr).toContain("--run-as tacacsrs-t18-nobody-here: no such account");
    } finally {
      await user.remove();
      await stack.stop();
    }
  }, 60_000);
});
