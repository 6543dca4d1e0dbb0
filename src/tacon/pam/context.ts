/**
 * The PAM context pam_exec(8) hands `tacon pam`: PAM_TYPE plus the items PAM_SERVICE, PAM_USER,
 * PAM_TTY, PAM_RHOST and PAM_RUSER as environment variables (pam_exec.c, env_items), and the
 * session's task_id for accounting.
 */

export class PamContextError extends Error {
  override readonly name = "PamContextError";
}

export type PamPhase = "auth" | "account" | "open_session" | "close_session";
const PHASES: readonly string[] = ["auth", "account", "open_session", "close_session"] satisfies PamPhase[];

export interface PamContext {
  phase: PamPhase;
  user: string;
  /** The PAM service (sshd, sudo, login), for log lines. */
  pamService: string;
  /** The TACACS+ port: PAM_TTY without "/dev/" (sshd sets "ssh" until a pty exists, then e.g. /dev/pts/3). */
  port: string;
  /** The TACACS+ rem_addr: PAM_RHOST (sshd: the client's address). */
  remoteAddress: string;
  remoteUser: string;
}

/** TACACS+ user, port and rem_addr fields are at most 255 bytes (RFC 8907 §5.4.2 length octets). */
const MAX_FIELD_BYTES = 255;

function item(env: Record<string, string | undefined>, name: string): string {
  const value = env[name] ?? "";
  if (Buffer.byteLength(value) > MAX_FIELD_BYTES) throw new PamContextError(`${name} is longer than ${MAX_FIELD_BYTES} bytes`);
  return value;
}

export function pamContext(env: Record<string, string | undefined>): PamContext {
  const phase = env.PAM_TYPE ?? "";
  if (phase === "password") throw new PamContextError('PAM_TYPE=password: tacon pam cannot change TACACS+ passwords (give pam_exec "type=auth" or keep it out of the password stack)');
  if (!PHASES.includes(phase)) throw new PamContextError(phase === "" ? "PAM_TYPE is not set: tacon pam runs under pam_exec(8)" : `PAM_TYPE=${phase} is not a PAM phase tacon pam handles`);
  const user = item(env, "PAM_USER");
  if (user === "") throw new PamContextError("PAM_USER is empty");
  return {
    phase: phase as PamPhase,
    user,
    pamService: item(env, "PAM_SERVICE"),
    port: item(env, "PAM_TTY").replace(/^\/dev\//, ""),
    remoteAddress: item(env, "PAM_RHOST"),
    remoteUser: item(env, "PAM_RUSER"),
  };
}

type Read = (path: string) => string;
/** node:fs loaded on first use: auth and account (most phases) read no file, and it costs a start ~3 ms. */
const readText: Read = (path) => process.getBuiltinModule("node:fs").readFileSync(path, "utf8");

/**
 * The accounting task_id of this login session, the same for START (open_session) and STOP
 * (close_session): both run in one process of the PAM application (sshd's monitor, sudo, login),
 * pam_exec's parent and ours. That process's pid and start time (/proc/PID/stat field 22, so a
 * reused pid gives another id) and the boot id (a new boot restarts the clock) name it.
 */
export function sessionTaskId(parentPid: number, read: Read = readText): string {
  const boot = read("/proc/sys/kernel/random/boot_id").trim().replace(/-/g, "").slice(0, 8);
  const stat = read(`/proc/${parentPid}/stat`);
  // The command name (field 2) may contain spaces and parentheses: fields are counted after its last ")".
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const startTime = fields[22 - 3];
  if (!/^[0-9a-f]{8}$/.test(boot) || startTime === undefined || !/^\d+$/.test(startTime)) {
    throw new PamContextError(`cannot derive the session's task_id from /proc/${parentPid}/stat and the boot id`);
  }
  return `${boot}-${parentPid}-${startTime}`;
}
