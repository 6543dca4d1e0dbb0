import { afterEach, beforeEach, expect, test } from "bun:test";
import { existsSync, lstatSync, mkdtempSync, readdirSync, rmSync, statSync, symlinkSync, watch, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { isLoopbackAddress } from "./ip-address";
import { listenLocal, LocalSocketError, prepareUnixSocketPath, socketAnswers } from "./local-socket";

let dir: string;
const servers: Server[] = [];

function newServer(): Server {
  const server = createServer((socket) => socket.end());
  servers.push(server);
  return server;
}

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "local-socket-"));
});

afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((resolve) => s.close(resolve))));
  rmSync(dir, { recursive: true, force: true });
});

async function expectCode(promise: Promise<unknown>, code: string): Promise<LocalSocketError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(LocalSocketError);
    expect((error as LocalSocketError).code).toBe(code as LocalSocketError["code"]);
    return error as LocalSocketError;
  }
  throw new Error(`expected a LocalSocketError ${code}`);
}

test("creates the parent directory and the socket with exactly the requested mode", async () => {
  const path = join(dir, "run", "tacacs", "agent.sock");
  const bound = await listenLocal(newServer(), { kind: "unix", path }, 0o660);
  expect(statSync(join(dir, "run", "tacacs")).isDirectory()).toBe(true);
  expect(statSync(join(dir, "run", "tacacs")).mode & 0o777).toBe(0o755 & ~process.umask());
  const stats = lstatSync(path);
  expect(stats.isSocket()).toBe(true);
  expect(stats.mode & 0o777).toBe(0o660);
  expect(await socketAnswers(path)).toBe(true);
  // the private bind directory is gone
  expect(readdirSync(join(dir, "run", "tacacs"))).toEqual(["agent.sock"]);
  bound.release();
  expect(existsSync(path)).toBe(false);
});

test("a mode narrower or wider than the umask default is applied exactly", async () => {
  for (const mode of [0o600, 0o666]) {
    const path = join(dir, `m${mode.toString(8)}.sock`);
    const server = newServer();
    const bound = await listenLocal(server, { kind: "unix", path }, mode);
    expect(lstatSync(path).mode & 0o777).toBe(mode);
    bound.release();
  }
});

test("nothing appears at the final path before it has its final mode", async () => {
  const path = join(dir, "agent.sock");
  const seen: Array<{ name: string; mode: number; socket: boolean; directory: boolean }> = [];
  const watcher = watch(dir, (_event, name) => {
    if (name === null) return;
    try {
      const stats = lstatSync(join(dir, name));
      seen.push({ name, mode: stats.mode & 0o777, socket: stats.isSocket(), directory: stats.isDirectory() });
    } catch {
      // already gone
    }
  });
  try {
    const bound = await listenLocal(newServer(), { kind: "unix", path }, 0o660);
    // fs.watch reports asynchronously: keep the socket until its event has been seen (bounded).
    for (let waited = 0; waited < 2000 && !seen.some((entry) => entry.name === "agent.sock"); waited += 10) await Bun.sleep(10);
    bound.release();
  } finally {
    watcher.close();
  }
  const atFinalPath = seen.filter((entry) => entry.name === "agent.sock");
  expect(atFinalPath.length).toBeGreaterThan(0);
  for (const entry of atFinalPath) expect(entry).toMatchObject({ socket: true, mode: 0o660 });
  for (const entry of seen.filter((e) => e.name !== "agent.sock")) expect(entry).toMatchObject({ directory: true, mode: 0o700 });
});

test("refuses a symlink, even one pointing at a socket, and leaves it alone", async () => {
  const real = join(dir, "real.sock");
  await listenLocal(newServer(), { kind: "unix", path: real }, 0o660);
  const link = join(dir, "link.sock");
  symlinkSync(real, link);
  const error = await expectCode(listenLocal(newServer(), { kind: "unix", path: link }, 0o660), "symlink");
  expect(error.message).toContain(link);
  expect(lstatSync(link).isSymbolicLink()).toBe(true);
  expect(lstatSync(real).isSocket()).toBe(true);
});

test("refuses a regular file and does not remove it", async () => {
  const path = join(dir, "file.sock");
  writeFileSync(path, "keep me");
  await expectCode(prepareUnixSocketPath(path), "not-a-socket");
  expect(existsSync(path)).toBe(true);
});

test("refuses to start when another agent is listening", async () => {
  const path = join(dir, "agent.sock");
  await listenLocal(newServer(), { kind: "unix", path }, 0o660);
  await expectCode(listenLocal(newServer(), { kind: "unix", path }, 0o660), "in-use");
  expect(await socketAnswers(path)).toBe(true);
});

test("replaces a stale socket nobody answers on", async () => {
  const path = join(dir, "agent.sock");
  // What a killed agent leaves behind: a socket file with no listener.
  const child = Bun.spawnSync(["/usr/bin/python3", "-c", `import socket; socket.socket(socket.AF_UNIX).bind(${JSON.stringify(path)})`]);
  expect(child.exitCode).toBe(0);
  expect(lstatSync(path).isSocket()).toBe(true);
  expect(await socketAnswers(path)).toBe(false);
  const bound = await listenLocal(newServer(), { kind: "unix", path }, 0o640);
  expect(await socketAnswers(path)).toBe(true);
  expect(lstatSync(path).mode & 0o777).toBe(0o640);
  bound.release();
});

test("release never removes a socket that is no longer ours", async () => {
  const path = join(dir, "agent.sock");
  const first = newServer();
  const bound = await listenLocal(first, { kind: "unix", path }, 0o660);
  await new Promise((resolve) => first.close(resolve));
  rmSync(path, { force: true });
  const second = await listenLocal(newServer(), { kind: "unix", path }, 0o660);
  bound.release();
  expect(lstatSync(path).isSocket()).toBe(true);
  second.release();
  expect(existsSync(path)).toBe(false);
});

test("refuses a path longer than sun_path", async () => {
  await expectCode(prepareUnixSocketPath(join(dir, "x".repeat(120))), "path-too-long");
});

test("TCP: loopback only", async () => {
  for (const host of ["127.0.0.1", "127.1.2.3", "::1", "0:0:0:0:0:0:0:1", "::ffff:127.0.0.1"]) {
    expect(isLoopbackAddress(host)).toBe(true);
  }
  for (const host of ["0.0.0.0", "::", "10.0.0.1", "localhost", "::ffff:10.0.0.1", "128.0.0.1"]) {
    expect(isLoopbackAddress(host)).toBe(false);
  }
  await expectCode(listenLocal(newServer(), { kind: "tcp", host: "0.0.0.0", port: 0 }, 0o660), "not-loopback");
  const bound = await listenLocal(newServer(), { kind: "tcp", host: "127.0.0.1", port: 0 }, 0o660);
  expect(bound.port).toBeGreaterThan(0);
  expect(bound.endpoint).toEqual({ kind: "tcp", host: "127.0.0.1", port: bound.port! });
});

test("a TCP port in use is a clear listen error", async () => {
  const bound = await listenLocal(newServer(), { kind: "tcp", host: "127.0.0.1", port: 0 }, 0o660);
  const error = await expectCode(listenLocal(newServer(), { kind: "tcp", host: "127.0.0.1", port: bound.port! }, 0o660), "listen");
  expect(error.message).toContain(`127.0.0.1:${bound.port}`);
});
