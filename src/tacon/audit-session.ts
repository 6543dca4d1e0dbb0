/**
 * The audit session of the calling process, for registering a TACACS+ login with the agent
 * (README "Command accounting"): the kernel's session id and login uid of /proc/self, which a
 * process started from the login's PAM session stack (after pam_loginuid) shares with the
 * user's shell and every command it runs.
 *
 *   tacon --user U --port pts/3 --rem-addr 192.0.2.7 --privilege-level 15 audit-session register
 *   tacon audit-session unregister
 */

/** The kernel's "unset" for both files ((uid_t)-1). */
const UNSET = 0xffff_ffff;
/** gRPC ALREADY_EXISTS (api/status.ts; not imported: tacon pam loads no more than it needs). */
const ALREADY_EXISTS = 6;

export class NoAuditSession extends Error {
  override readonly name = "NoAuditSession";
}

export interface AuditSessionIds {
  sessionId: number;
  loginUid: number;
}

/** /proc/self/sessionid and /proc/self/loginuid; throws NoAuditSession when unset or unreadable. */
export function currentAuditSession(read: (path: string) => string = (path) => process.getBuiltinModule("node:fs").readFileSync(path, "utf8")): AuditSessionIds {
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

/** One call to the agent (as `tacon pam` makes them); rejects with ApiCallError. */
type Call = (method: "RegisterAuditSession" | "UnregisterAuditSession", request: object) => Promise<Record<string, unknown>>;

/** What open_session knows of the login. */
export interface LoginRegistration {
  user: string;
  port: string;
  remoteAddress: string;
  privilegeLevel: number;
  /** The login session's accounting task_id: each command's task_id starts with it. */
  taskBase: string;
}

/**
 * open_session: registers the login's audit session, so the audit plugin accounts its commands.
 * Returns a problem worth a log line, or undefined; never blocks the login. Without an audit
 * session (no pam_loginuid) there is nothing to register; ALREADY_EXISTS is the expected answer
 * inside a login (sudo, su): the first login of the session owns it.
 */
export async function registerLogin(call: Call, ids: AuditSessionIds | undefined, login: LoginRegistration): Promise<string | undefined> {
  if (ids === undefined) return undefined;
  try {
    await call("RegisterAuditSession", { session: { ...ids, ...login } });
    return undefined;
  } catch (error) {
    if ((error as { code?: number }).code === ALREADY_EXISTS) return undefined;
    return `command accounting: audit session ${ids.sessionId} not registered: ${(error as Error).message}`;
  }
}

/** close_session: removes the registration this login made (not another login's). */
export async function unregisterLogin(call: Call, ids: AuditSessionIds | undefined, taskBase: string): Promise<string | undefined> {
  if (ids === undefined) return undefined;
  try {
    await call("UnregisterAuditSession", { sessionId: ids.sessionId, taskBase });
    return undefined;
  } catch (error) {
    return `command accounting: audit session ${ids.sessionId} not unregistered: ${(error as Error).message}`;
  }
}

/** The calling process's audit session, or undefined when it has none. */
export function currentAuditSessionOrNone(): AuditSessionIds | undefined {
  try {
    return currentAuditSession();
  } catch (error) {
    if (error instanceof NoAuditSession) return undefined;
    throw error;
  }
}
