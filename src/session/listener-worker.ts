/**
 * The listener worker: RECV blocks and Bun's event loop cannot watch the listener fd, so this
 * Worker loops on poll([listener, pidfds...]). For each held exec it reads and resolves the
 * target, checks that the notification is still valid, and posts it to the supervisor's main
 * thread, which decides and SENDs the answer; a command the main thread allowed and cached goes
 * on from here (allowed-feed.ts). For accounting, it watches each exec'ing process through a
 * pidfd and posts its exit status when it ends (the supervisor is not the parent of its
 * grandchildren, so waitid cannot tell). POLLHUP on the listener: no task holds the filter.
 */
import { readFileSync, readSync } from "node:fs";
import {
  currentAbi,
  EINTR,
  NOTIF_RESP_SIZE,
  NOTIF_SIZE,
  PIDFD_GET_INFO,
  PIDFD_INFO_EXIT,
  PIDFD_INFO_EXIT_CODE_OFFSET,
  PIDFD_INFO_SIZE,
  POLLERR,
  POLLHUP,
  POLLIN,
  POLLNVAL,
  SECCOMP_IOCTL_NOTIF_ID_VALID,
  SECCOMP_IOCTL_NOTIF_RECV,
  SECCOMP_IOCTL_NOTIF_SEND,
  SYS_PIDFD_OPEN,
} from "./abi";
import { EntryReader } from "./allowed-feed";
import { commandKey, DecisionCache } from "./decisions";
import { readExecTarget, TargetError, type ExecTarget } from "./exec-target";
import { errno, lib, ptr, rawSyscall } from "./libc";
import { decodeNotification, encodeResponse } from "./notification";
import type { WorkerMessage, WorkerStart } from "./worker-messages";

declare const self: Worker;

/** Processes watched for their exit at once; beyond it an exec is authorized but its STOP has no status. */
export const MAX_WATCHED_PROCESSES = 4096;

const post = (message: WorkerMessage) => self.postMessage(message);

/** The wait status of an ended process: from the pidfd (reaped, Linux 6.15) or /proc (zombie). */
function exitStatus(pidfd: number, pid: number): number | undefined {
  const info = new Uint8Array(PIDFD_INFO_SIZE);
  const view = new DataView(info.buffer);
  for (let attempt = 0; attempt < 2; attempt++) {
    view.setBigUint64(0, BigInt(PIDFD_INFO_EXIT), true);
    if (lib().ioctl(pidfd, PIDFD_GET_INFO, ptr(info)) === 0 && (view.getBigUint64(0, true) & BigInt(PIDFD_INFO_EXIT)) !== 0n) {
      return view.getInt32(PIDFD_INFO_EXIT_CODE_OFFSET, true);
    }
    // Not reaped yet: a zombie's /proc/PID/stat field 52 is its wait status (proc(5)).
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, "latin1");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (fields[0] === "Z") return Number(fields[52 - 3]);
    } catch {
      // Reaped between the two reads: the pidfd has it now.
    }
  }
  return undefined;
}

/** The thread group of `tid` (an exec from a non-leader thread takes over the leader's pid). */
function threadGroupOf(tid: number): number {
  try {
    const match = /^Tgid:\s+(\d+)/m.exec(readFileSync(`/proc/${tid}/status`, "latin1"));
    return match ? Number(match[1]) : tid;
  } catch {
    return tid;
  }
}

/** The allowed answers the main thread cached, as it feeds them (allowed-feed.ts). */
class AllowedAnswers {
  readonly #cache: DecisionCache;
  readonly #reader = new EntryReader();
  readonly #buffer = new Uint8Array(64 * 1024);

  constructor(
    /** The feed's read end; -1 once it is closed or unusable (the main thread then answers every exec). */
    public fd: number,
    ttlMs: number,
    maxEntries: number,
  ) {
    this.#cache = new DecisionCache(ttlMs, maxEntries, () => Date.now());
  }

  /** Reads what the feed holds (called when poll says it is readable or hung up). */
  take(): void {
    let open = true;
    try {
      const n = readSync(this.fd, this.#buffer);
      for (const entry of this.#reader.push(this.#buffer.subarray(0, n))) this.#cache.set(entry.key, { allowed: true, message: "" }, entry.expiresAt);
      open = n > 0;
    } catch (error) {
      // Closed, or corrupt: dropped, so the main thread answers every exec (slower, never wrong).
      open = (error as NodeJS.ErrnoException).code === "EAGAIN";
    }
    if (open) return;
    lib().close(this.fd);
    this.fd = -1;
  }

  allows(target: ExecTarget): boolean {
    // Nothing fed (caching off, or nothing allowed yet): no command key to build.
    if (this.#cache.size === 0) return false;
    return this.#cache.get(commandKey(target.path, target.args, target.argc)) !== undefined;
  }
}

function run({ listener, accounting, feed, cacheTtlMs, cacheMaxEntries }: WorkerStart): void {
  const abi = currentAbi()!;
  const c = lib();
  const watched = new Map<number, number>(); // pid → pidfd
  /**
   * The pid of thread `tid`'s process, whose exit is then watched (when exits are reported).
   * pidfd_open(2) fails (EINVAL) for a thread that does not lead its group, so /proc is read
   * only then (~50 µs an exec otherwise).
   */
  const processOf = (tid: number): number => {
    if (watched.has(tid)) return tid;
    let pid = tid;
    let pidfd = rawSyscall(SYS_PIDFD_OPEN, tid, 0);
    if (pidfd < 0) {
      pid = threadGroupOf(tid);
      pidfd = pid === tid || watched.has(pid) ? -1 : rawSyscall(SYS_PIDFD_OPEN, pid, 0);
    }
    if (pidfd >= 0 && accounting && watched.size < MAX_WATCHED_PROCESSES) watched.set(pid, pidfd);
    else if (pidfd >= 0) c.close(pidfd);
    return pid;
  };
  const allowed = new AllowedAnswers(feed, cacheTtlMs, cacheMaxEntries);
  const notif = new Uint8Array(NOTIF_SIZE);
  const response = new Uint8Array(NOTIF_RESP_SIZE);
  const idBytes = new BigUint64Array(1);
  let pollSet = new Uint8Array(8);
  for (;;) {
    // poll(2) skips a negative fd: the feed once it is closed.
    const fds = [listener, allowed.fd, ...watched.values()];
    if (pollSet.length < fds.length * 8) pollSet = new Uint8Array(fds.length * 16);
    const view = new DataView(pollSet.buffer);
    fds.forEach((fd, i) => {
      view.setInt32(i * 8, fd, true);
      view.setInt16(i * 8 + 4, POLLIN, true);
      view.setInt16(i * 8 + 6, 0, true);
    });
    if (c.poll(ptr(pollSet), fds.length, -1) < 0) {
      if (errno() === EINTR) continue;
      post({ type: "failed", message: `poll failed (errno ${errno()})` });
      return;
    }
    // Exits first, so a process that exec'd and ended is reported before the listener hangs up.
    for (const [pid, pidfd] of watched) {
      const index = fds.indexOf(pidfd);
      if ((view.getInt16(index * 8 + 6, true) & (POLLIN | POLLHUP | POLLERR)) === 0) continue;
      post({ type: "exit", pid, status: exitStatus(pidfd, pid), atMs: Date.now() });
      c.close(pidfd);
      watched.delete(pid);
    }
    // The feed before the listener: an answer cached before an exec was let go is there for the next one.
    if ((view.getInt16(8 + 6, true) & (POLLIN | POLLHUP | POLLERR | POLLNVAL)) !== 0) allowed.take();
    const events = view.getInt16(6, true);
    if ((events & POLLIN) !== 0) {
      notif.fill(0);
      if (c.ioctl(listener, SECCOMP_IOCTL_NOTIF_RECV, ptr(notif)) < 0) continue; // ENOENT: the caller died meanwhile
      const notification = decodeNotification(notif);
      const family = abi.archs.find((a) => a.auditArch === notification.arch && (a.execve === notification.nr || a.execveat === notification.nr));
      const native = abi.archs[0]!;
      let message: WorkerMessage;
      try {
        if (family === undefined) throw new TargetError(1, `unexpected syscall ${notification.nr}`);
        const target = readExecTarget(notification, native, notification.nr === family.execveat);
        message = { type: "exec", id: notification.id, pid: notification.pid, target, atMs: Date.now() };
      } catch (error) {
        if (!(error instanceof TargetError)) throw error;
        message = { type: "exec", id: notification.id, pid: notification.pid, failure: { errno: error.errno, message: error.message }, atMs: Date.now() };
      }
      // The pid may have died and been reused while we read its memory (seccomp_unotify(2)).
      idBytes[0] = notification.id;
      if (c.ioctl(listener, SECCOMP_IOCTL_NOTIF_ID_VALID, ptr(idBytes)) < 0) continue;
      if (message.target !== undefined && allowed.allows(message.target)) {
        // With accounting the exit is watched before the process goes on; without, its pid is not needed.
        if (accounting) message.pid = processOf(notification.pid);
        const sent = c.ioctl(listener, SECCOMP_IOCTL_NOTIF_SEND, ptr(encodeResponse(notification.id, { kind: "continue" }, response))) === 0;
        // Without accounting the main thread has nothing left to do for it.
        if (sent && accounting) post({ ...message, answered: true });
        continue;
      }
      message.pid = processOf(notification.pid);
      post(message);
    } else if ((events & (POLLHUP | POLLERR | POLLNVAL)) !== 0) {
      post({ type: "idle" });
      return;
    }
  }
}

self.onmessage = (event: MessageEvent<WorkerStart>) => {
  try {
    run(event.data);
  } catch (error) {
    post({ type: "failed", message: (error as Error).message });
  }
};
