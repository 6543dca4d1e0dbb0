/**
 * The sshd harness itself: Debian's sshd on a loopback port with a private PAM service, a
 * temporary user, and both cleaned up. pam_permit/pam_deny stand in for the real stack.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { sshdRunnable, sshLogin, startSshd } from "./sshd";
import { createSystemUser } from "./system-user";

describe.skipIf(!sshdRunnable())("sshd harness", () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterAll(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
  });

  test("a private PAM service decides, and stop() removes it and the user", async () => {
    const user = await createSystemUser("tacacsrs-t17h");
    cleanups.push(() => user.remove());
    const pam = (verdict: string) => `auth required ${verdict}\naccount required pam_permit.so\nsession required pam_permit.so\n`;
    const sshd = await startSshd({ pamService: "tacacsrs-test-17-harness", pam: pam("pam_permit.so") });
    cleanups.push(() => sshd.stop());
    const ok = await sshLogin({ port: sshd.port, user: user.name, password: "anything", command: "id -un" });
    expect(ok, sshd.output()).toMatchObject({ exit: 0, stdout: `${user.name}\n` });
    sshd.pamFile.write(pam("pam_deny.so"));
    const refused = await sshLogin({ port: sshd.port, user: user.name, password: "anything", command: "id -un" });
    expect(refused.exit).not.toBe(0);
    expect(refused.stdout).toBe("");
    await sshd.stop();
    await user.remove();
    expect(existsSync(sshd.pamFile.path)).toBe(false);
    expect(existsSync(sshd.dir)).toBe(false);
    expect(Bun.spawnSync(["getent", "passwd", user.name]).exitCode).not.toBe(0);
  }, 60_000);
});
