/**
 * The session supervisor: spawns the launcher (our own executable) with the shell to run, takes
 * the seccomp listener from it (pidfd_getfd), and answers every held exec of the session's
 * process tree on the main thread while the listener worker receives them. A denied exec fails
 * with EACCES and one line on the session's stderr. The supervisor exits with the shell's
 * status once the shell ended and the accounting records in flight are sent (at most
 * FLUSH_GRACE_MS). A process of the session still running after that can no longer exec: its
 * exec fails with ENOSYS (the kernel fails closed without a listener).
 */
import type { Pointer } from "bun:ffi";
import { existsSync, readSync, writeSync } from "node:fs";
import { constants as osConstants } from "node:os";
import {
  EACCES,
  NOTIF_RESP_SIZE,
  O_CLOEXEC,
  O_NONBLOCK,
  POLLIN,
  SECCOMP_IOCTL_NOTIF_SEND,
  SECCOMP_IOCTL_NOTIF_SET_FLAGS,
  SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP,
  SYS_PIDFD_GETFD,
  SYS_PIDFD_OPEN,
} from "./abi";
import { CommandAccounting } from "./accounting";
import { encodeEntry } from "./allowed-feed";
import { Authorizer, type AgentApi } from "./authorizer";
import { DecisionCache } from "./decisions";
import { REPORT_FD, type LaunchSpec } from "./launcher";
import { LAUNCHER_FLAG } from "./launcher-flag";
import { lib, ptr, rawSyscall } from "./libc";
import { encodeResponse, type Verdict } from "./notification";
import type { SessionIdentity } from "./requests";
import type { WorkerMessage, WorkerStart } from "./worker-messages";

/** How long accounting records in flight get once the shell has ended. */
export const FLUSH_GRACE_MS = 3000;
/** How long the worker gets, once the shell has ended, to report the exits of ended commands. */
const LAST_EXIT_WAIT_MS = 1000;
/** The launcher must report its listener within this (a Bun start takes ~40 ms). */
export const LAUNCH_TIMEOUT_MS = 10_000;

export interface SupervisorOptions {
  spec: LaunchSpec;
  /** The resolved path of the operator's --shell: its first exec is not asked. */
  shellPath: string;
  identity: SessionIdentity;
  api: AgentApi;
  allowlist: ReadonlySet<string>;
  failurePolicy: "closed" | "open";
  decisionTimeoutMs: number;
  cacheTtlMs: number;
  cacheMaxEntries: number;
  accounting: boolean;
  /** One line on the session's stderr. */
  say: (line: string) => void;
}

export class SupervisorError extends Error {}

/** Our own executable (and, outside a compiled binary, the entry script). */
function selfCommand(): string[] {
  const script = process.argv[1] ?? "";
  return script.startsWith("/$bunfs/") || script === "" ? [process.execPath] : [process.execPath, script];
}

/**
 * The listener worker's module: in the compiled binary an extra entry point of scripts/build.ts,
 * found by its path below src/ (bundled code's import.meta.url is the executable's).
 */
function workerModule(): string {
  return import.meta.url.startsWith("file:///$bunfs/") ? "./session/listener-worker.ts" : new URL("./listener-worker.ts", import.meta.url).href;
}

/** Reads the listener fd number the launcher writes on fd 3 (a non-blocking pipe: poll first). */
async function readReport(fd: number): Promise<number> {
  const pollSet = new Uint8Array(8);
  const view = new DataView(pollSet.buffer);
  const deadline = Date.now() + LAUNCH_TIMEOUT_MS;
  let text = "";
  const buffer = new Uint8Array(32);
  while (!text.includes("\n")) {
    view.setInt32(0, fd, true);
    view.setInt16(4, POLLIN, true);
    view.setInt16(6, 0, true);
    if (lib().poll(ptr(pollSet), 1, 0) > 0) {
      const n = readSync(fd, buffer);
      if (n === 0) throw new SupervisorError("the launcher ended before installing the filter");
      text += new TextDecoder().decode(buffer.subarray(0, n));
    } else if (Date.now() > deadline) {
      throw new SupervisorError(`the launcher did not report within ${LAUNCH_TIMEOUT_MS} ms`);
    } else {
      await Bun.sleep(2);
    }
  }
  const number = Number(text.trim());
  if (!Number.isInteger(number) || number < 0) throw new SupervisorError(`the launcher reported "${text.trim()}"`);
  return number;
}

function takeListener(pid: number, remoteFd: number): number {
  const pidfd = rawSyscall(SYS_PIDFD_OPEN, pid, 0);
  if (pidfd < 0) throw new SupervisorError(`pidfd_open(${pid}) failed (errno ${-pidfd})`);
  const listener = rawSyscall(SYS_PIDFD_GETFD, pidfd, remoteFd, 0);
  lib().close(pidfd);
  if (listener < 0) throw new SupervisorError(`pidfd_getfd failed (errno ${-listener})`);
  // A held exec is a round trip between two sleeping tasks: woken on the waker's CPU, neither
  // waits for an idle CPU to notice. Kernels before 6.6 refuse the flag; that costs only speed.
  lib().ioctl(listener, SECCOMP_IOCTL_NOTIF_SET_FLAGS, SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP as Pointer);
  return listener;
}

/** A child's exit as a waitpid(2) status: code << 8, or the signal number. */
function waitStatus(exitCode: number | null, signal: NodeJS.Signals | number | null): number | undefined {
  if (typeof signal === "number") return signal;
  if (signal !== null) return osConstants.signals[signal] ?? undefined;
  return exitCode === null ? undefined : exitCode << 8;
}

export interface SupervisorCounters {
  execs: number;
  unresolved: number;
  sendFailures: number;
  /** Allowed answers the worker could not be fed (pipe full, or a command line too long for one entry). */
  notFed: number;
}

/** The allowed-answer feed to the listener worker (allowed-feed.ts): a non-blocking pipe, or undefined without one. */
function openFeed(): { read: number; write: number } | undefined {
  const fds = new Int32Array(2);
  return lib().pipe2(ptr(fds), O_NONBLOCK | O_CLOEXEC) === 0 ? { read: fds[0]!, write: fds[1]! } : undefined;
}

/** Runs the session; resolves with the shell's exit status. */
export async function supervise(options: SupervisorOptions): Promise<number> {
  const child = Bun.spawn([...selfCommand(), LAUNCHER_FLAG, JSON.stringify(options.spec)], {
    stdio: ["inherit", "inherit", "inherit", "pipe"],
    env: {},
  });
  const stopChild = () => child.kill("SIGKILL");
  let listener: number;
  try {
    listener = takeListener(child.pid, await readReport(child.stdio[REPORT_FD] as unknown as number));
  } catch (error) {
    stopChild();
    await child.exited;
    throw error;
  }
  // Signals meant for the session go to the shell; the supervisor must outlive it (fail closed otherwise).
  for (const signal of ["SIGINT", "SIGQUIT", "SIGTSTP", "SIGTTIN", "SIGTTOU"] as const) process.on(signal, () => {});
  for (const signal of ["SIGHUP", "SIGTERM"] as const) process.on(signal, () => child.kill(signal));

  const counters: SupervisorCounters = { execs: 0, unresolved: 0, sendFailures: 0, notFed: 0 };
  const feed = options.cacheTtlMs > 0 ? openFeed() : undefined;
  // Written before the exec that was asked about goes on, so the worker has it for the next one.
  const feedAllowed = (key: string, expiresAt: number) => {
    const entry = encodeEntry(key, expiresAt);
    if (entry === undefined || feed === undefined) {
      counters.notFed++;
      return;
    }
    try {
      writeSync(feed.write, entry); // at most PIPE_BUF bytes: all or nothing (EAGAIN when full)
    } catch {
      counters.notFed++;
    }
  };
  const cache = new DecisionCache(options.cacheTtlMs, options.cacheMaxEntries, () => Date.now());
  const authorizer = new Authorizer(options.api, options.identity, cache, { ...options, cachedAllowed: feedAllowed });
  const taskBase = `${process.pid}.${Date.now().toString(36)}`;
  const accounting = options.accounting ? new CommandAccounting(options.api, options.identity, taskBase, options.decisionTimeoutMs) : undefined;
  const response = new Uint8Array(NOTIF_RESP_SIZE);
  const send = (id: bigint, verdict: Verdict): boolean => {
    const ok = lib().ioctl(listener, SECCOMP_IOCTL_NOTIF_SEND, ptr(encodeResponse(id, verdict, response))) === 0;
    if (!ok) counters.sendFailures++;
    return ok;
  };
  let first = true;
  let lastDenial = { pid: 0, path: "" };
  let failingOpen = false;
  const decisions = new Set<Promise<void>>();

  const onExec = async (message: Extract<WorkerMessage, { type: "exec" }>) => {
    counters.execs++;
    // Let go by the worker (an allowed answer cached here): only its START is left.
    if (message.answered) {
      accounting?.started(message.pid, message.target!, message.atMs);
      return;
    }
    const launch = first && message.pid === child.pid;
    first &&= !launch;
    // The launcher's exec of the session's own shell: the login itself was authorized. Any
    // other first program (tacacs-session -- PROGRAM) is asked like every later one.
    if (launch && message.target?.path === options.shellPath) {
      send(message.id, { kind: "continue" });
      return;
    }
    if (message.target === undefined) {
      counters.unresolved++;
      send(message.id, { kind: "fail", errno: message.failure!.errno });
      return;
    }
    const target = message.target;
    const outcome = await authorizer.decide(target);
    if (!outcome.allowed) {
      // Said first, so the line comes before the shell's "Permission denied"; once per process
      // and path (a shell tries every PATH entry that resolves to the same file, /bin → /usr/bin).
      if (lastDenial.pid !== message.pid || lastDenial.path !== target.path) options.say(`tacacs-session: ${target.path}: denied: ${outcome.message}`);
      lastDenial = { pid: message.pid, path: target.path };
      send(message.id, { kind: "fail", errno: EACCES });
      return;
    }
    // Fail-open is said once per outage, so the user knows commands run unchecked.
    if (outcome.source === "failure-policy" && !failingOpen) options.say(`tacacs-session: ${outcome.message}: commands run without authorization`);
    if (outcome.source === "server") failingOpen = false;
    else if (outcome.source === "failure-policy") failingOpen = true;
    if (send(message.id, { kind: "continue" }) && outcome.source !== "allowlist") accounting?.started(message.pid, target, Date.now());
  };

  const worker = new Worker(workerModule());
  // Without its listener the session cannot exec anything: end it rather than leave it hanging.
  const workerFailed = (why: string) => {
    options.say(`tacacs-session: the exec listener failed: ${why}`);
    stopChild();
  };
  worker.onerror = (event) => workerFailed(event.message);
  worker.onmessage = (event: MessageEvent<WorkerMessage>) => {
    const message = event.data;
    if (message.type === "exec") {
      const deciding = onExec(message).finally(() => decisions.delete(deciding));
      decisions.add(deciding);
    }
    else if (message.type === "exit") accounting?.ended(message.pid, message.status, message.atMs);
    else if (message.type === "failed") workerFailed(message.message);
  };
  worker.postMessage({
    listener,
    accounting: accounting !== undefined,
    feed: feed?.read ?? -1,
    cacheTtlMs: options.cacheTtlMs,
    cacheMaxEntries: options.cacheMaxEntries,
  } satisfies WorkerStart);
  worker.unref();

  const code = await child.exited;
  // Decisions still in flight record their START first.
  await Promise.all(decisions);
  if (feed !== undefined) lib().close(feed.write);
  // The worker reports the exits of ended commands (it may lag on a busy machine).
  const alive = (pid: number) => pid !== child.pid && existsSync(`/proc/${pid}`);
  for (const until = Date.now() + LAST_EXIT_WAIT_MS; accounting?.anyGone(alive) && Date.now() < until; ) await Bun.sleep(5);
  // The shell may have exec'd its last command (sh -c 'ls'): that process is our child, its
  // status is known here. Other commands gone unreported get their STOP without status.
  accounting?.ended(child.pid, waitStatus(child.exitCode, child.signalCode), Date.now());
  accounting?.endGone(alive, Date.now());
  await accounting?.flush(FLUSH_GRACE_MS);
  const lost = accounting?.counters();
  if (lost && (lost.failed > 0 || lost.pending > 0)) options.say(`tacacs-session: ${lost.failed} accounting records failed and ${lost.pending} were still in flight at the end of the session`);
  return code;
}
