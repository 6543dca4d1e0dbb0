/**
 * The audit session of the calling process, for registering a TACACS+ login with the agent
 * (README "Command accounting"): the kernel's session id and login uid of /proc/self, which a
 * process started from the login's PAM session stack (after pam_loginuid) shares with the
 * user's shell and every command it runs.
 *
 *   tacon --user U --port pts/3 --rem-addr 192.0.2.7 --privilege-level 15 audit-session register
 *   tacon audit-session unregister
 */
import { readFileSync } from "node:fs";

/** The kernel's "unset" for both files ((uid_t)-1). */
const UNSET = 0xffff_ffff;

export class NoAuditSession extends Error {
  override readonly name = "NoAuditSession";
}

export interface AuditSessionIds {
  sessionId: number;
  loginUid: number;
}

/** /proc/self/sessionid and /proc/self/loginuid; throws NoAuditSession when unset or unreadable. */
export function currentAuditSession(read: (path: string) => string = (path) => readFileSync(path, "utf8")): AuditSessionIds {
  const number = (path: string): number => {
    let text: string;
    try {
      text = read(path).trim();
    } catch (error) {
      throw new NoAuditSession(`cannot read ${path} (${(error as Error).message}): is audit support in the kernel?`);
    }
    if (!/^\d+$/.test(text) || Number(text) >= UNSET) {
      throw new NoAuditSession(`${path} is unset: this process is not in a login's audit session (run it from the PAM session stack, after pam_loginuid)`);
    }
    return Number(text);
  };
  return { sessionId: number("/proc/self/sessionid"), loginUid: number("/proc/self/loginuid") };
}
