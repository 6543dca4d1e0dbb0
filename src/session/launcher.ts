/**
 * Launcher mode of the multi-call binary: the supervisor spawns its own executable with
 * LAUNCHER_FLAG and a JSON LaunchSpec. On its JS thread the launcher installs the exec filter
 * (seccomp user notifications), reports the listener's fd number on fd 3, drops to the session
 * user, restores what Bun changed in the process, and execs the user's shell. That exec is
 * itself held until the supervisor answers, so no "go" signal is needed. The filter applies to
 * this thread only, which is enough: execve ends every other thread (see the note in
 * ../shared/notes/exec-authorization-seccomp.md).
 */
import {
  currentAbi,
  EPERM,
  PR_SET_NO_NEW_PRIVS,
  SECCOMP_FILTER_FLAG_NEW_LISTENER,
  SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV,
  SECCOMP_SET_MODE_FILTER,
} from "./abi";
import { encodeFilter, execFilter } from "./filter";
import { cString, cStringArray, errno, lib, ptr, rawSyscall } from "./libc";

/** The pipe on which the launcher reports the listener fd (Bun.spawn's first extra stdio). */
export const REPORT_FD = 3;

export interface LaunchSpec {
  /** Absolute path of the program to exec (the user's shell). */
  path: string;
  argv: string[];
  env: string[];
  /** Soft RLIMIT_NOFILE the program gets (Bun raised the launcher's to the hard limit). */
  nofileSoft: number;
  /** Set no_new_privs (required unless the launcher runs with CAP_SYS_ADMIN). */
  noNewPrivs: boolean;
  /** Drop to this user before exec (when the supervisor runs as root). */
  user?: { name: string; uid: number; gid: number };
}

const SIGPIPE = 13;
const SIGXFSZ = 25;
const SIG_DFL = 0;
const SIG_SETMASK = 2;
const RLIMIT_NOFILE = 7;
/** glibc's sigset_t is 128 bytes. */
const SIGSET_BYTES = 128;

class LaunchError extends Error {}

function check(result: number, what: string): void {
  if (result < 0) throw new LaunchError(`${what} failed (errno ${errno()})`);
}

/** Installs the filter; returns the listener fd. */
function installFilter(): number {
  const abi = currentAbi();
  if (abi === undefined) throw new LaunchError(`command authorization is not supported on ${process.arch}`);
  const program = encodeFilter(execFilter(abi.archs));
  // struct sock_fprog {u16 len; 6 bytes padding; struct sock_filter *filter}
  const fprog = new BigUint64Array(2);
  new DataView(fprog.buffer).setUint16(0, program.length / 8, true);
  fprog[1] = BigInt(ptr(program));
  const install = (flags: number) => rawSyscall(abi.sysSeccomp, SECCOMP_SET_MODE_FILTER, flags, Number(ptr(fprog)));
  let fd = install(SECCOMP_FILTER_FLAG_NEW_LISTENER | SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV);
  // WAIT_KILLABLE_RECV came with Linux 5.19; older kernels refuse the flag (EINVAL).
  if (fd === -22) fd = install(SECCOMP_FILTER_FLAG_NEW_LISTENER);
  if (fd < 0) throw new LaunchError(`installing the seccomp filter failed (errno ${-fd}${-fd === EPERM ? ": needs no_new_privs or CAP_SYS_ADMIN" : ""})`);
  return fd;
}

function dropPrivileges(user: NonNullable<LaunchSpec["user"]>): void {
  const c = lib();
  check(c.initgroups(ptr(cString(user.name)), user.gid), `initgroups(${user.name})`);
  check(c.setresgid(user.gid, user.gid, user.gid), "setresgid");
  check(c.setresuid(user.uid, user.uid, user.uid), "setresuid");
}

/** Undoes what Bun changed and execve keeps: ignored SIGPIPE/SIGXFSZ, the signal mask, the raised fd limit. */
function restoreProcessState(nofileSoft: number): void {
  const c = lib();
  c.signal(SIGPIPE, SIG_DFL);
  c.signal(SIGXFSZ, SIG_DFL);
  check(c.sigprocmask(SIG_SETMASK, ptr(new Uint8Array(SIGSET_BYTES)), 0), "sigprocmask");
  // Bun raised the soft limit to the hard one, which it left as it was.
  const limit = new BigUint64Array(2);
  check(c.getrlimit(RLIMIT_NOFILE, ptr(limit)), "getrlimit(RLIMIT_NOFILE)");
  limit[0] = BigInt(nofileSoft) < limit[1]! ? BigInt(nofileSoft) : limit[1]!;
  check(c.setrlimit(RLIMIT_NOFILE, ptr(limit)), "setrlimit(RLIMIT_NOFILE)");
}

/** Writes the listener fd number to the supervisor and closes the pipe (libc, as every call here: node:fs would cost the start ~3 ms). */
function report(listener: number): void {
  const line = new TextEncoder().encode(`${listener}\n`);
  if (Number(lib().write(REPORT_FD, ptr(line), line.length)) !== line.length) throw new LaunchError(`reporting the listener failed (errno ${errno()})`);
  check(lib().close(REPORT_FD), "close(report pipe)");
}

/** Runs the launcher; returns only on failure, with an exit status (126, as a shell's "cannot execute"). */
export function runLauncher(specJson: string | undefined): number {
  try {
    const spec = JSON.parse(specJson ?? "") as LaunchSpec;
    if (spec.noNewPrivs) check(lib().prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "prctl(PR_SET_NO_NEW_PRIVS)");
    const listener = installFilter();
    report(listener);
    if (spec.user) dropPrivileges(spec.user);
    restoreProcessState(spec.nofileSoft);
    // Every buffer execve reads stays referenced by a local until the call: a pointer to an
    // unreferenced typed array may point at reused memory once the collector runs.
    const path = cString(spec.path);
    const argv = cStringArray(spec.argv);
    const env = cStringArray(spec.env);
    lib().execve(ptr(path), ptr(argv.array), ptr(env.array));
    throw new LaunchError(`cannot execute ${spec.path} (errno ${errno()})`);
  } catch (error) {
    process.stderr.write(`tacacs-session: ${(error as Error).message}\n`);
    return 126;
  }
}
