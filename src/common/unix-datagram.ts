/**
 * One datagram to a Unix datagram socket (systemd's NOTIFY_SOCKET, syslog's /dev/log).
 * Bun has no Unix datagram sockets, so this calls libc through bun:ffi.
 */
import { dlopen, FFIType, ptr } from "bun:ffi";

const AF_UNIX = 1;
const SOCK_DGRAM_CLOEXEC = 2 | 0x80000;
/** sizeof(struct sockaddr_un): a 2-byte family and a 108-byte path. */
const SOCKADDR_UN_SIZE = 110;

type Libc = {
  socket(domain: number, type: number, protocol: number): number;
  sendto(fd: number, buf: unknown, len: number, flags: number, addr: unknown, addrlen: number): number | bigint;
  close(fd: number): number;
};

let libc: Libc | undefined;

function loadLibc(): Libc {
  libc ??= dlopen("libc.so.6", {
    socket: { args: [FFIType.i32, FFIType.i32, FFIType.i32], returns: FFIType.i32 },
    sendto: { args: [FFIType.i32, FFIType.ptr, FFIType.u64, FFIType.i32, FFIType.ptr, FFIType.u32], returns: FFIType.i64 },
    close: { args: [FFIType.i32], returns: FFIType.i32 },
  }).symbols as unknown as Libc;
  return libc;
}

/** The sockaddr_un of a socket path; "@name" is the abstract namespace. */
export function unixAddress(socketPath: string): { address: Uint8Array; length: number } {
  const path = new TextEncoder().encode(socketPath.startsWith("@") ? `\0${socketPath.slice(1)}` : socketPath);
  if (path.length === 0 || path.length >= SOCKADDR_UN_SIZE - 2) throw new Error(`Unix socket path is too long or empty: ${JSON.stringify(socketPath)}`);
  const address = new Uint8Array(SOCKADDR_UN_SIZE);
  new DataView(address.buffer).setUint16(0, AF_UNIX, true);
  address.set(path, 2);
  // Abstract names are exact-length; file paths carry their terminating NUL.
  return { address, length: 2 + path.length + (socketPath.startsWith("@") ? 0 : 1) };
}

/** Sends `message` as one datagram; false when the socket is missing, refuses, or the path is bad. */
export function sendUnixDatagram(socketPath: string, message: Uint8Array): boolean {
  let target: { address: Uint8Array; length: number };
  try {
    target = unixAddress(socketPath);
  } catch {
    return false;
  }
  const c = loadLibc();
  const fd = c.socket(AF_UNIX, SOCK_DGRAM_CLOEXEC, 0);
  if (fd < 0) return false;
  try {
    return Number(c.sendto(fd, ptr(message), message.length, 0, ptr(target.address), target.length)) === message.length;
  } finally {
    c.close(fd);
  }
}
