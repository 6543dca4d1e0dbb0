/**
 * What a held exec wants to run, read from the calling process (runs on the listener worker):
 * the path and argv strings from /proc/PID/mem at the syscall's pointers, and the path resolved
 * to an absolute, symlink-free file the way the kernel will find it (relative to the caller's
 * cwd, or to execveat's dirfd; AT_EMPTY_PATH runs the dirfd itself, e.g. fexecve or a memfd).
 * Only what TACACS+ can carry is kept: MAX_KEPT_ARGS arguments of MAX_KEPT_ARG_BYTES bytes.
 */
import { closeSync, openSync, readlinkSync, readSync, realpathSync } from "node:fs";
import { MAX_KEPT_ARG_BYTES, MAX_KEPT_ARGS, type ExecArg } from "../audit-plugin/exec-event";
import { AT_EMPTY_PATH, AT_FDCWD, type ExecSyscalls } from "./abi";
import type { Notification } from "./notification";

/** PATH_MAX: a longer path fails in the kernel with ENAMETOOLONG anyway. */
export const MAX_PATH_BYTES = 4096;
/** Arguments counted beyond the kept ones (the kernel allows about 2^21); a longer argv is reported as at least this. */
export const MAX_COUNTED_ARGS = 65_536;

export interface ExecTarget {
  /** The resolved absolute path (cmd=). */
  path: string;
  /** argv[1..] as kept (argv[0] is the program's name as invoked, not authorized). */
  args: ExecArg[];
  /** How many arguments argv[1..] had (may exceed args.length). */
  argc: number;
}

/** The exec cannot happen: the kernel would fail it with this errno, so the supervisor does. */
export class TargetError extends Error {
  constructor(
    readonly errno: number,
    message: string,
  ) {
    super(message);
  }
}

const ERRNO: Record<string, number> = { ENOENT: 2, ENOTDIR: 20, EACCES: 13, ELOOP: 40, ENAMETOOLONG: 36, ESRCH: 3, EFAULT: 14 };

function targetError(error: unknown, what: string): TargetError {
  const code = (error as NodeJS.ErrnoException).code ?? "";
  return new TargetError(ERRNO[code] ?? ERRNO.ENOENT!, `${what}: ${code || (error as Error).message}`);
}

/** Reads NUL-terminated strings and pointers from another process's memory. */
class Memory {
  readonly #fd: number;
  readonly #chunk = new Uint8Array(256);

  constructor(pid: number) {
    try {
      this.#fd = openSync(`/proc/${pid}/mem`, "r");
    } catch (error) {
      throw targetError(error, `cannot read the memory of process ${pid}`);
    }
  }

  close(): void {
    closeSync(this.#fd);
  }

  #read(address: number, into: Uint8Array): number {
    try {
      return readSync(this.#fd, into, 0, into.length, address);
    } catch (error) {
      throw new TargetError(ERRNO.EFAULT!, `bad address 0x${address.toString(16)}: ${(error as NodeJS.ErrnoException).code}`);
    }
  }

  /** The string at `address`: its first `keep` bytes and whether it was longer. */
  string(address: number, keep: number): ExecArg {
    const parts: Uint8Array[] = [];
    let kept = 0;
    for (;;) {
      const n = this.#read(address + kept, this.#chunk);
      if (n <= 0) throw new TargetError(ERRNO.EFAULT!, `unreadable string at 0x${address.toString(16)}`);
      const nul = this.#chunk.subarray(0, n).indexOf(0);
      const take = Math.min(nul < 0 ? n : nul, keep - kept);
      parts.push(this.#chunk.slice(0, take));
      kept += take;
      if (nul >= 0 && nul <= take) return { bytes: Buffer.concat(parts), length: kept };
      if (kept >= keep) return { bytes: Buffer.concat(parts), length: keep + 1 };
    }
  }

  /** Pointer `index` of the array at `address`, with 8- or 4-byte pointers. */
  pointer(address: number, index: number, size: 4 | 8): number {
    const bytes = new Uint8Array(size);
    if (this.#read(address + index * size, bytes) !== size) throw new TargetError(ERRNO.EFAULT!, "unreadable argv");
    const view = new DataView(bytes.buffer);
    return size === 8 ? Number(view.getBigUint64(0, true)) : view.getUint32(0, true);
  }
}

const utf8 = new TextDecoder();

/** 64-bit pointers for the native ABI; 4-byte ones for i386 and x32. */
function pointerSize(notification: Notification, native: ExecSyscalls): 4 | 8 {
  return notification.arch === native.auditArch && notification.nr < 0x4000_0000 ? 8 : 4;
}

/** Resolves what the kernel will open: `path` relative to the caller's cwd or `dirfd`. */
export function resolvePath(pid: number, path: string, dirfd: number, flags: number): string {
  const base = dirfd === AT_FDCWD ? `/proc/${pid}/cwd` : `/proc/${pid}/fd/${dirfd}`;
  try {
    if (path === "" && (flags & AT_EMPTY_PATH) !== 0) {
      // fexecve / memfd: the file is the descriptor itself; a deleted or anonymous file keeps its link text.
      try {
        return realpathSync(base);
      } catch {
        return readlinkSync(base);
      }
    }
    if (path === "") throw new TargetError(ERRNO.ENOENT!, "empty path");
    return realpathSync(path.startsWith("/") ? `/proc/${pid}/root${path}` : `${base}/${path}`);
  } catch (error) {
    if (error instanceof TargetError) throw error;
    throw targetError(error, path);
  }
}

/** Reads and resolves the exec `notification` describes (execve or execveat of `native`'s ABI family). */
export function readExecTarget(notification: Notification, native: ExecSyscalls, isExecveat: boolean): ExecTarget {
  const { pid, args } = notification;
  const [pathPointer, argvPointer, dirfd, flags] = isExecveat
    ? [args[1]!, args[2]!, Number(BigInt.asIntN(32, args[0]!)), Number(args[4]!)]
    : [args[0]!, args[1]!, AT_FDCWD, 0];
  const memory = new Memory(pid);
  try {
    const raw = memory.string(Number(pathPointer), MAX_PATH_BYTES);
    if (raw.length > MAX_PATH_BYTES) throw new TargetError(ERRNO.ENAMETOOLONG!, "path too long");
    const path = resolvePath(pid, utf8.decode(raw.bytes), dirfd, flags);
    const size = pointerSize(notification, native);
    const kept: ExecArg[] = [];
    let argc = 0;
    // argv may be NULL or empty (Linux then runs the program with an empty argv).
    const hasArgv0 = argvPointer !== 0n && memory.pointer(Number(argvPointer), 0, size) !== 0;
    for (let i = 1; hasArgv0 && i <= MAX_COUNTED_ARGS; i++) {
      const at = memory.pointer(Number(argvPointer), i, size);
      if (at === 0) break;
      argc++;
      if (kept.length < MAX_KEPT_ARGS) kept.push(memory.string(at, MAX_KEPT_ARG_BYTES));
    }
    return { path, args: kept, argc };
  } finally {
    memory.close();
  }
}
