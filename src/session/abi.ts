/**
 * Kernel numbers the session supervisor needs, per CPU architecture (checked with
 * SECCOMP_GET_NOTIF_SIZES on x86_64: notif 80, resp 24, data 64 bytes; see
 * ../shared/notes/exec-authorization-seccomp.md). The ioctl numbers and struct layouts are the
 * generic 64-bit ones, the same on x86_64 and aarch64.
 */

/** One audit architecture (seccomp_data.arch) and the exec syscalls a filter holds for it. */
export interface ExecSyscalls {
  auditArch: number;
  execve: number;
  execveat: number;
}

export interface Abi {
  /** Native architecture first; compat ABIs (i386 and x32 on x86_64) after. */
  archs: readonly ExecSyscalls[];
  sysSeccomp: number;
}

const X32_BIT = 0x4000_0000;

export const ABIS: Readonly<Record<string, Abi>> = {
  x64: {
    archs: [
      { auditArch: 0xc000_003e, execve: 59, execveat: 322 },
      // x32 programs run under the x86_64 audit arch with the x32 bit set in the number.
      { auditArch: 0xc000_003e, execve: X32_BIT | 520, execveat: X32_BIT | 545 },
      { auditArch: 0x4000_0003, execve: 11, execveat: 358 },
    ],
    sysSeccomp: 317,
  },
  arm64: {
    archs: [
      { auditArch: 0xc000_00b7, execve: 221, execveat: 281 },
      { auditArch: 0x4000_0028, execve: 11, execveat: 387 },
    ],
    sysSeccomp: 277,
  },
};

/** The running architecture's numbers, or undefined where command authorization is not supported. */
export function currentAbi(arch: string = process.arch): Abi | undefined {
  return ABIS[arch];
}

// Unified syscall numbers (the same on every architecture since Linux 5.x).
export const SYS_PIDFD_OPEN = 434;
export const SYS_PIDFD_GETFD = 438;

export const PR_SET_NO_NEW_PRIVS = 38;
export const SECCOMP_SET_MODE_FILTER = 1;
export const SECCOMP_FILTER_FLAG_NEW_LISTENER = 8;
/** A signal does not interrupt a held exec once the supervisor has received it (pitfall 4). */
export const SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV = 32;

export const SECCOMP_RET_KILL_PROCESS = 0x8000_0000;
export const SECCOMP_RET_ERRNO = 0x0005_0000;
export const SECCOMP_RET_USER_NOTIF = 0x7fc0_0000;
export const SECCOMP_RET_ALLOW = 0x7fff_0000;

export const SECCOMP_IOCTL_NOTIF_RECV = 0xc050_2100;
export const SECCOMP_IOCTL_NOTIF_SEND = 0xc018_2101;
export const SECCOMP_IOCTL_NOTIF_ID_VALID = 0x4008_2102;
export const SECCOMP_USER_NOTIF_FLAG_CONTINUE = 1;
/** Linux 6.6: _IOW('!', 4, u64), its argument the flags themselves. */
export const SECCOMP_IOCTL_NOTIF_SET_FLAGS = 0x4008_2104;
/** The notifying task and the supervisor wake each other on the waker's CPU (seccomp_unotify(2)). */
export const SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP = 1;

export const NOTIF_SIZE = 80;
export const NOTIF_RESP_SIZE = 24;

/** PIDFD_GET_INFO = _IOWR(0xFF, 11, struct pidfd_info) with the 72-byte version 1 struct (Linux 6.15). */
export const PIDFD_INFO_SIZE = 72;
export const PIDFD_GET_INFO = ((3 << 30) >>> 0) + (PIDFD_INFO_SIZE << 16) + (0xff << 8) + 11;
export const PIDFD_INFO_EXIT = 8;
/** Offsets in struct pidfd_info: u64 mask @0, s32 exit_code @60. */
export const PIDFD_INFO_MASK_OFFSET = 0;
export const PIDFD_INFO_EXIT_CODE_OFFSET = 60;

/** pipe2(2) flags (the generic values, x86_64 and aarch64). */
export const O_NONBLOCK = 0o4000;
export const O_CLOEXEC = 0o2000000;

export const AT_FDCWD = -100;
export const AT_EMPTY_PATH = 0x1000;

export const POLLIN = 0x1;
export const POLLERR = 0x8;
export const POLLHUP = 0x10;
export const POLLNVAL = 0x20;

export const EACCES = 13;
export const ENOENT = 2;
export const EINTR = 4;
export const EPERM = 1;
