/**
 * Who the session is, from the process and the environment sshd and PAM set (read once at
 * start, pure given its inputs): the account (from /etc/passwd by uid, or by --run-as name),
 * the tty of the session (port), the client's address (SSH_CONNECTION, SSH_CLIENT, PAM's
 * PAM_RHOST) and the original RLIMIT_NOFILE of the login (the parent's).
 */
import { readFileSync, readlinkSync } from "node:fs";

export interface Account {
  name: string;
  uid: number;
  gid: number;
  home: string;
  shell: string;
}

/** Parses /etc/passwd text; `key` picks an entry by name or uid. */
export function findAccount(passwd: string, key: string | number): Account | undefined {
  for (const line of passwd.split("\n")) {
    const [name, , uid, gid, , home, shell] = line.split(":");
    if (name === undefined || uid === undefined || gid === undefined) continue;
    if (typeof key === "string" ? name === key : Number(uid) === key) return { name, uid: Number(uid), gid: Number(gid), home: home ?? "/", shell: shell ?? "" };
  }
  return undefined;
}

export function systemAccount(key: string | number): Account | undefined {
  try {
    return findAccount(readFileSync("/etc/passwd", "utf8"), key);
  } catch {
    return undefined;
  }
}

/** "pts/3" for /dev/pts/3, "tty1" for /dev/tty1: the terminal on stdin, else SSH_TTY, else "". */
export function sessionPort(env: Record<string, string | undefined>, stdinLink: () => string = () => readlinkSync("/proc/self/fd/0")): string {
  let device = "";
  try {
    device = stdinLink();
  } catch {
    // no stdin
  }
  if (!/^\/dev\/(pts\/\d+|tty\w*)$/.test(device)) device = env.SSH_TTY ?? "";
  return device.replace(/^\/dev\//, "");
}

/** The client's address: first word of SSH_CONNECTION or SSH_CLIENT, else PAM_RHOST, else "". */
export function remoteAddress(env: Record<string, string | undefined>): string {
  const ssh = (env.SSH_CONNECTION ?? env.SSH_CLIENT ?? "").trim().split(/\s+/)[0];
  return ssh || env.PAM_RHOST || "";
}

/** The soft "Max open files" of a /proc/PID/limits text. */
export function softNofile(limits: string): number | undefined {
  const line = limits.split("\n").find((l) => l.startsWith("Max open files"));
  const soft = line?.trim().split(/\s+/)[3];
  return soft === undefined || !/^\d+$/.test(soft) ? undefined : Number(soft);
}

/** The session would have had its parent's (sshd's, login's) soft fd limit: Bun raised ours. */
export function originalNofile(): number {
  try {
    return softNofile(readFileSync(`/proc/${process.ppid}/limits`, "utf8")) ?? 1024;
  } catch {
    return 1024;
  }
}
