/**
 * A temporary local user for tests that log in through PAM (sshd, su, sudo): `useradd` with a
 * locked password (PAM, not /etc/shadow, decides who gets in) and `userdel -r` on remove, also
 * when the test fails (call `remove()` in finally/afterAll; a process-exit hook is the safety net).
 * Root only. Names must start with "tacacsrs-t" (ours to delete): make them unique per issue,
 * e.g. "tacacsrs-t17a", and at most 32 characters (useradd's limit).
 *
 *   const user = await createSystemUser("tacacsrs-t17a");
 *   try { ... } finally { await user.remove(); }
 */
import { $ } from "bun";
import { onExitCleanup } from "./exit-cleanup";

export const SYSTEM_USER_PREFIX = "tacacsrs-t";

export interface SystemUser {
  readonly name: string;
  readonly uid: number;
  readonly home: string;
  /** userdel -r; idempotent. */
  remove(): Promise<void>;
}

/** Why a test cannot create users here, or undefined when it can. */
export function systemUserUnavailable(): string | undefined {
  if (process.getuid?.() !== 0) return "needs root (useradd)";
  if (!Bun.which("useradd") || !Bun.which("userdel")) return "useradd/userdel are missing (Debian package passwd)";
  return undefined;
}

function checkName(name: string): void {
  if (!name.startsWith(SYSTEM_USER_PREFIX) || !/^[a-z][a-z0-9-]{0,31}$/.test(name)) {
    throw new Error(`test user names start with "${SYSTEM_USER_PREFIX}" and are [a-z0-9-], at most 32 characters: "${name}"`);
  }
}

function userExists(name: string): boolean {
  return Bun.spawnSync(["getent", "passwd", name]).exitCode === 0;
}

function deleteUser(name: string): void {
  if (!userExists(name)) return;
  const result = Bun.spawnSync(["userdel", "--remove", "--force", name], { stderr: "pipe" });
  if (result.exitCode !== 0 && userExists(name)) throw new Error(`userdel ${name} failed: ${result.stderr.toString().trim()}`);
}

/** Creates the user (removing a leftover of the same name from a crashed run first). */
export async function createSystemUser(name: string, options: { shell?: string } = {}): Promise<SystemUser> {
  checkName(name);
  const why = systemUserUnavailable();
  if (why) throw new Error(`cannot create test user ${name}: ${why}`);
  deleteUser(name);
  const shell = options.shell ?? "/bin/sh";
  const created = await $`useradd --create-home --shell ${shell} --comment ${"tacacsrs-agentd test user"} ${name}`.nothrow().quiet();
  if (created.exitCode !== 0) throw new Error(`useradd ${name} failed: ${created.stderr.toString().trim()}`);
  const cancelHook = onExitCleanup(() => deleteUser(name));
  const [, , uid, , , home] = (await $`getent passwd ${name}`.text()).trim().split(":");
  let removed = false;
  return {
    name,
    uid: Number(uid),
    home: home!,
    async remove() {
      if (removed) return;
      removed = true;
      cancelHook();
      deleteUser(name);
    },
  };
}
