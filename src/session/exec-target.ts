/**
 * What a held exec wants to run, read from the calling process (runs on the listener worker):
 * the path and argv strings at the syscall's pointers (process_vm_readv), and the path resolved
 * to an absolute, symlink-free file the way the kernel will find it (relative to the caller's
 * cwd, or to execveat's dirfd; AT_EMPTY_PATH runs the dirfd itself, e.g. fexecve or a memfd).
 * Only what TACACS+ can carry is kept: MAX_KEPT_ARGS arguments of MAX_KEPT_ARG_BYTES bytes.
 */
import { readlinkSync, realpathSync } from "node:fs";
import { MAX_KEPT_ARG_BYTES, MAX_KEPT_ARGS, type CommandArg } from "../protocol/command-args";
import { AT_EMPTY_PATH, AT_FDCWD, type ExecSyscalls } from "./abi";
import { errno, lib, ptr } from "./libc";
import type { Notification } from "./notification";

/** PATH_MAX: a longer path fails in the kernel with ENAMETOOLONG anyway. */
export const MAX_PATH_BYTES = 4096;
/** Arguments counted beyond the kept ones (the kernel allows about 2^21); a longer argv is reported as at least this. */
export const MAX_COUNTED_ARGS = 65_536;

export interface ExecTarget {
  /** The resolved absolute path (cmd=). */
  path: string;
  /** argv[1..] as kept (argv[0] is the program's name as invoked, not authorized). */
  args: CommandArg[];
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

/** Bytes read per call: one string chunk, or a block of argv pointers. */
const READ_BYTES = 256;

// One exec is read at a time on a thread (synchronously): the buffers are shared, made once.
const chunk = new Uint8Array(READ_BYTES);
/** Pointers read ahead (see Memory.pointer). */
const block = new Uint8Array(READ_BYTES);
const blockView = new DataView(block.buffer);
/** { local base, length, remote base, length }: the two iovecs of one read. */
const iovecs = new BigUint64Array(4);
const iovecsAt = ptr(iovecs);

/**
 * Reads NUL-terminated strings and pointers from another process's memory with
 * process_vm_readv(2): one system call per read and no file to open (/proc/PID/mem cost an
 * open, a close and a read per pointer). The same permission check (ptrace access mode ATTACH)
 * applies; a read stops at the first unmapped page.
 */
class Memory {
  /** `block` holds bytes `#blockStart`..`#blockEnd` of the pointer array at `#blockArray`. */
  #blockArray = -1;
  #blockStart = 0;
  #blockEnd = 0;

  constructor(private readonly pid: number) {}

  #read(address: number, into: Uint8Array): number {
    iovecs[0] = BigInt(ptr(into));
    iovecs[1] = iovecs[3] = BigInt(into.length);
    iovecs[2] = BigInt(address);
    const n = Number(lib().process_vm_readv(this.pid, iovecsAt, 1, iovecsAt + 16, 1, 0));
    if (n >= 0) return n;
    const code = errno();
    if (code === ERRNO.EFAULT) throw new TargetError(code, `bad address 0x${address.toString(16)}`);
    if (code === ERRNO.ESRCH) throw new TargetError(code, `process ${this.pid} is gone`);
    throw new TargetError(ERRNO.EACCES!, `cannot read the memory of process ${this.pid} (errno ${code})`);
  }

  /** The string at `address`: its first `keep` bytes and whether it was longer. */
  string(address: number, keep: number): CommandArg {
    const parts: Uint8Array[] = [];
    let kept = 0;
    for (;;) {
      const n = this.#read(address + kept, chunk);
      if (n <= 0) throw new TargetError(ERRNO.EFAULT!, `unreadable string at 0x${address.toString(16)}`);
      const nul = chunk.subarray(0, n).indexOf(0);
      const take = Math.min(nul < 0 ? n : nul, keep - kept);
      parts.push(chunk.slice(0, take));
      kept += take;
      const bytes = () => (parts.length === 1 ? parts[0]! : Buffer.concat(parts));
      if (nul >= 0 && nul <= take) return { bytes: bytes(), length: kept };
      if (kept >= keep) return { bytes: bytes(), length: keep + 1 };
    }
  }

  /** Pointer `index` of the array at `address`, with 8- or 4-byte pointers (read a block at a time). */
  pointer(address: number, index: number, size: 4 | 8): number {
    const offset = index * size;
    if (this.#blockArray !== address || offset < this.#blockStart || offset + size > this.#blockEnd) {
      this.#blockArray = address;
      this.#blockStart = offset;
      this.#blockEnd = offset + this.#read(address + offset, block);
      if (offset + size > this.#blockEnd) throw new TargetError(ERRNO.EFAULT!, "unreadable argv");
    }
    const at = offset - this.#blockStart;
    return size === 8 ? Number(blockView.getBigUint64(at, true)) : blockView.getUint32(at, true);
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
  const raw = memory.string(Number(pathPointer), MAX_PATH_BYTES);
  if (raw.length > MAX_PATH_BYTES) throw new TargetError(ERRNO.ENAMETOOLONG!, "path too long");
  const path = resolvePath(pid, utf8.decode(raw.bytes), dirfd, flags);
  const size = pointerSize(notification, native);
  const kept: CommandArg[] = [];
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
}
