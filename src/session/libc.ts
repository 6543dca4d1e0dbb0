/**
 * The libc calls of the session supervisor and its launcher, through bun:ffi (loaded on first
 * use). Each wrapper returns the raw result; `errno()` reads the calling thread's errno right
 * after a failed call.
 */
import { dlopen, FFIType, ptr, read, type Pointer } from "bun:ffi";

const { i32, u32, i64, u64 } = FFIType;
const pointer = FFIType.ptr;

function load() {
  return dlopen("libc.so.6", {
    prctl: { args: [i32, u64, u64, u64, u64], returns: i32 },
    syscall: { args: [i64, i64, i64, i64], returns: i64 },
    ioctl: { args: [i32, u64, pointer], returns: i32 },
    poll: { args: [pointer, u64, i32], returns: i32 },
    execve: { args: [pointer, pointer, pointer], returns: i32 },
    signal: { args: [i32, u64], returns: u64 },
    sigprocmask: { args: [i32, pointer, u64], returns: i32 },
    setrlimit: { args: [i32, pointer], returns: i32 },
    getrlimit: { args: [i32, pointer], returns: i32 },
    write: { args: [i32, pointer, u64], returns: i64 },
    initgroups: { args: [pointer, u32], returns: i32 },
    setresgid: { args: [u32, u32, u32], returns: i32 },
    setresuid: { args: [u32, u32, u32], returns: i32 },
    geteuid: { args: [], returns: u32 },
    close: { args: [i32], returns: i32 },
    pipe2: { args: [pointer, i32], returns: i32 },
    process_vm_readv: { args: [i32, pointer, u64, pointer, u64, u64], returns: i64 },
    __errno_location: { args: [], returns: pointer },
  }).symbols;
}

let libc: ReturnType<typeof load> | undefined;

/** The bound libc functions. */
export function lib(): ReturnType<typeof load> {
  libc ??= load();
  return libc;
}

export function errno(): number {
  return read.i32(lib().__errno_location() as Pointer, 0);
}

/** A syscall's result, or -errno. */
export function rawSyscall(nr: number, a = 0, b = 0, c = 0): number {
  const result = Number(lib().syscall(nr, a, b, c));
  return result < 0 ? -errno() : result;
}

const encoder = new TextEncoder();

/** A NUL-terminated copy of `text` (keep the array alive while its pointer is in use). */
export function cString(text: string): Uint8Array {
  return encoder.encode(`${text}\0`);
}

/** A NULL-terminated `char *[]` over `strings`; `keep` holds the memory the pointers point into. */
export function cStringArray(strings: readonly string[]): { array: BigUint64Array; keep: Uint8Array[] } {
  const keep = strings.map(cString);
  const array = new BigUint64Array(strings.length + 1);
  keep.forEach((bytes, i) => (array[i] = BigInt(ptr(bytes))));
  return { array, keep };
}

export { ptr };
