/**
 * Local listening sockets for the client API and the proxy: Unix socket paths created with their
 * final permission from the start, and loopback-only TCP endpoints.
 *
 * Unix sockets are bound inside a private 0700 directory next to the final path, chmod-ed, then
 * hard-linked into place (link fails instead of replacing a file that appeared meanwhile): the
 * socket is never reachable under a wider mode, and the process umask
 * (global state shared with every other part of the daemon) is never touched.
 *
 * Usage:
 *   const bound = await listenLocal(server, endpoint, 0o660);   // net.Server or a LocalListener
 *   ...
 *   server.close(); bound.release();                            // removes our socket, never a symlink
 */
import { randomBytes } from "node:crypto";
import { chmodSync, linkSync, lstatSync, mkdirSync, rmdirSync, statSync, unlinkSync, type Stats } from "node:fs";
import { connect, type Server } from "node:net";
import { basename, dirname, join } from "node:path";
import type { Endpoint } from "./endpoint";
import { formatEndpoint } from "./endpoint";
import { isLoopbackAddress } from "./ip-address";

export type LocalSocketErrorCode =
  | "symlink"
  | "not-a-socket"
  | "in-use"
  | "not-loopback"
  | "path-too-long"
  | "parent"
  | "listen";

/** A local endpoint that cannot be used; the message names the path or address and the reason. */
export class LocalSocketError extends Error {
  constructor(
    message: string,
    readonly code: LocalSocketErrorCode,
  ) {
    super(message);
    this.name = "LocalSocketError";
  }
}

/** A bound endpoint. `release()` removes the Unix socket file if it is still ours; idempotent. */
export interface BoundEndpoint {
  readonly endpoint: Endpoint;
  /** For TCP with port 0: the port actually bound. */
  readonly port?: number;
  release(): void;
}

/** sun_path is 108 bytes on Linux including the terminating NUL. */
const MAX_UNIX_PATH_BYTES = 107;
/** How long a connect probe on an existing socket may take before it counts as "nobody answers". */
const PROBE_TIMEOUT_MS = 500;

/** Refuses a TCP endpoint whose host is not a loopback IP literal. */
export function assertLoopbackEndpoint(endpoint: Endpoint): void {
  if (endpoint.kind === "tcp" && !isLoopbackAddress(endpoint.host)) {
    throw new LocalSocketError(
      `refusing to listen on ${formatEndpoint(endpoint)}: TCP endpoints must be a loopback address (127.0.0.1 or ::1)`,
      "not-loopback",
    );
  }
}

function lstatOrUndefined(path: string): Stats | undefined {
  try {
    return lstatSync(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw error;
  }
}

/** Resolves true when something accepts a connection on the Unix socket at `path`. */
export function socketAnswers(path: string, timeoutMs = PROBE_TIMEOUT_MS): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = connect({ path });
    const finish = (answered: boolean) => {
      clearTimeout(timer);
      probe.removeAllListeners();
      probe.on("error", () => {});
      probe.destroy();
      resolve(answered);
    };
    const timer = setTimeout(() => finish(false), timeoutMs);
    probe.once("connect", () => finish(true));
    probe.once("error", () => finish(false));
  });
}

/**
 * Makes `path` ready to bind: creates the parent directory (0755) if missing, refuses a symlink or
 * a non-socket file, refuses a socket another process is listening on, removes a stale socket.
 */
export async function prepareUnixSocketPath(path: string): Promise<void> {
  if (Buffer.byteLength(path) > MAX_UNIX_PATH_BYTES) {
    throw new LocalSocketError(`socket path ${path} is longer than ${MAX_UNIX_PATH_BYTES} bytes`, "path-too-long");
  }
  const parent = dirname(path);
  try {
    mkdirSync(parent, { recursive: true, mode: 0o755 });
  } catch (error) {
    throw new LocalSocketError(`cannot create directory ${parent}: ${(error as Error).message}`, "parent");
  }
  if (!statSync(parent).isDirectory()) throw new LocalSocketError(`${parent} is not a directory`, "parent");
  const existing = lstatOrUndefined(path);
  if (existing === undefined) return;
  if (existing.isSymbolicLink()) {
    throw new LocalSocketError(`refusing socket path ${path}: it is a symbolic link`, "symlink");
  }
  if (!existing.isSocket()) {
    throw new LocalSocketError(`refusing socket path ${path}: it exists and is not a socket`, "not-a-socket");
  }
  if (await socketAnswers(path)) {
    throw new LocalSocketError(`another process is already listening on ${path}`, "in-use");
  }
  // Stale socket of a previous run; re-check that it is still the same socket before removing.
  const again = lstatOrUndefined(path);
  if (again !== undefined && again.isSocket() && sameFile(again, existing)) unlinkSync(path);
}

export type ListenTarget = { path: string } | { host: string; port: number };

/** A listening socket that is not a net.Server (e.g. one made with Bun.listen). */
export interface LocalListener {
  /** Binds and listens; rejects with the system error. */
  listen(target: ListenTarget): Promise<void>;
  close(): void;
  /** The TCP port bound (for port 0). */
  readonly port: number | undefined;
}

function netListener(server: Server): LocalListener {
  return {
    listen: (target) =>
      new Promise((resolve, reject) => {
        const onError = (error: Error) => reject(error);
        server.once("error", onError);
        server.listen(target, () => {
          server.removeListener("error", onError);
          resolve();
        });
      }),
    close: () => server.close(),
    get port() {
      const address = server.address();
      return typeof address === "object" && address !== null ? address.port : undefined;
    },
  };
}

/** Inode numbers are reused at once on tmpfs; inode plus birth time identifies our socket file. */
function sameFile(a: Stats, b: Stats): boolean {
  return a.dev === b.dev && a.ino === b.ino && a.birthtimeMs === b.birthtimeMs;
}

/** Removes `path` only if it is still the socket we bound; never follows a symlink. */
function removeOwnSocket(path: string, ours: Stats): void {
  const current = lstatOrUndefined(path);
  if (current !== undefined && current.isSocket() && sameFile(current, ours)) unlinkSync(path);
}

async function listenUnix(server: LocalListener, path: string, mode: number): Promise<BoundEndpoint> {
  await prepareUnixSocketPath(path);
  const privateDir = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString("hex")}`);
  mkdirSync(privateDir, { mode: 0o700 });
  const temporary = join(privateDir, "s");
  try {
    await server.listen({ path: temporary });
    chmodSync(temporary, mode);
    // link() fails with EEXIST instead of replacing: an agent that started meanwhile keeps its socket.
    linkSync(temporary, path);
    unlinkSync(temporary);
  } catch (error) {
    server.close();
    const stats = lstatOrUndefined(temporary);
    if (stats?.isSocket()) unlinkSync(temporary);
    rmdirSync(privateDir);
    if ((error as NodeJS.ErrnoException).code === "EEXIST") {
      throw new LocalSocketError(`${path} appeared while starting; is another agent starting?`, "in-use");
    }
    throw new LocalSocketError(`cannot listen on ${path}: ${(error as Error).message}`, "listen");
  }
  rmdirSync(privateDir);
  const ours = lstatSync(path);
  let released = false;
  return {
    endpoint: { kind: "unix", path },
    release() {
      if (released) return;
      released = true;
      removeOwnSocket(path, ours);
    },
  };
}

async function listenTcp(server: LocalListener, host: string, port: number): Promise<BoundEndpoint> {
  try {
    await server.listen({ host, port });
  } catch (error) {
    throw new LocalSocketError(`cannot listen on ${formatEndpoint({ kind: "tcp", host, port })}: ${(error as Error).message}`, "listen");
  }
  const bound = server.port ?? port;
  return { endpoint: { kind: "tcp", host, port: bound }, port: bound, release() {} };
}

/**
 * Binds `server` (a net.Server or anything extending it, or a LocalListener) to a local endpoint.
 * Unix: the socket appears at its path with exactly `mode`; TCP: loopback addresses only.
 * Throws LocalSocketError with an operator-readable message.
 */
export async function listenLocal(server: Server | LocalListener, endpoint: Endpoint, mode: number): Promise<BoundEndpoint> {
  const listener = "address" in server ? netListener(server) : server;
  if (endpoint.kind === "unix") return listenUnix(listener, endpoint.path, mode);
  assertLoopbackEndpoint(endpoint);
  return listenTcp(listener, endpoint.host, endpoint.port);
}
