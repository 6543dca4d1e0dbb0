/**
 * Who is on the other end of a connected Unix socket: SO_PEERCRED (socket(7)), the pid, uid and
 * gid the kernel recorded when the peer connected. It cannot be forged by the peer, unlike
 * anything it sends. Bun's sockets expose their file descriptor (`socket.fd`) but not the
 * credentials, so this calls getsockopt(2) through bun:ffi.
 *
 *   const peer = peerCredentials(socket.fd);   // { pid, uid, gid } or undefined (TCP, closed fd)
 *
 * Without a loadable libc.so.6 every answer is undefined: callers that need root are refused.
 */
import { dlopen, FFIType, ptr } from "bun:ffi";

export interface PeerCredentials {
  readonly pid: number;
  readonly uid: number;
  readonly gid: number;
}

const SOL_SOCKET = 1;
/** asm-generic value, used by x86_64 and aarch64 (our release targets). */
const SO_PEERCRED = 17;
/** sizeof(struct ucred): pid_t, uid_t, gid_t. */
const UCRED_SIZE = 12;

type Libc = { getsockopt(fd: number, level: number, name: number, value: unknown, length: unknown): number };

/** libc, once loaded; null when it cannot be (then no connection has credentials: fail closed). */
let libc: Libc | null | undefined;

function loadLibc(): Libc | null {
  if (libc === undefined) {
    try {
      libc = dlopen("libc.so.6", {
        getsockopt: { args: [FFIType.i32, FFIType.i32, FFIType.i32, FFIType.ptr, FFIType.ptr], returns: FFIType.i32 },
      }).symbols as unknown as Libc;
    } catch {
      libc = null;
    }
  }
  return libc;
}

/** The peer of the Unix socket `fd`; undefined when it has none (a TCP socket, a closed descriptor). */
export function peerCredentials(fd: number | undefined): PeerCredentials | undefined {
  const c = loadLibc();
  if (c === null || fd === undefined || !Number.isInteger(fd) || fd < 0) return undefined;
  const value = new Uint8Array(UCRED_SIZE);
  const length = new Uint32Array([UCRED_SIZE]);
  if (c.getsockopt(fd, SOL_SOCKET, SO_PEERCRED, ptr(value), ptr(length)) !== 0 || length[0] !== UCRED_SIZE) return undefined;
  const view = new DataView(value.buffer);
  const credentials = { pid: view.getInt32(0, true), uid: view.getUint32(4, true), gid: view.getUint32(8, true) };
  // TCP sockets answer with pid 0 and the overflow ids (no peer process is known).
  return credentials.pid === 0 ? undefined : credentials;
}

/** The peer of a Bun socket (its `fd`, which Bun's type declarations leave out). */
export function peerOfSocket(socket: object): PeerCredentials | undefined {
  return peerCredentials((socket as { fd?: number }).fd);
}
