/**
 * Socket safety of the COMPILED agent: it never follows a symlink when creating or removing its
 * Unix sockets. A symlink planted at the API or proxy socket path (to a file, or to a stale socket
 * it would otherwise remove) makes it refuse to start and leaves both link and target alone; a
 * socket swapped for a symlink while it runs is not removed through the link at shutdown. A plain
 * stale socket is replaced (the normal restart after a crash).
 */
import { afterEach, expect, test } from "bun:test";
import { existsSync, lstatSync, mkdtempSync, readFileSync, readlinkSync, renameSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startAgent } from "../support/agent-process";
import { startTacacsServer, type TestServer } from "../support/tacacs-server";

const SECRET = "sockets-secret-2b7e";
const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await Promise.resolve(cleanup()).catch(() => {});
});

async function fixture(): Promise<{ dir: string; server: TestServer }> {
  const dir = mkdtempSync(join(tmpdir(), "sockets-"));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const server = await startTacacsServer({ key: SECRET });
  cleanups.push(() => server.stop());
  return { dir, server };
}

/** A socket file nobody listens on (bound, never listened, process gone): what a crash leaves. */
function staleSocket(path: string): void {
  const made = Bun.spawnSync(["/usr/bin/python3", "-c", "import socket,sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])", path]);
  expect(made.exitCode).toBe(0);
  expect(lstatSync(path).isSocket()).toBe(true);
}

async function refusedStart(args: string[], dir: string): Promise<string> {
  const agent = await startAgent(args, { TACACSRS_SHARED_SECRET: SECRET }, { waitHealthy: false, dir });
  expect(await agent.process.exited).toBe(1);
  await agent.stop();
  return agent.output();
}

test("a symlink at the API socket path (to a file) is refused; link and target stay", async () => {
  const { dir, server } = await fixture();
  const victim = join(dir, "victim.txt");
  writeFileSync(victim, "precious");
  const socket = join(dir, "tacacs.sock");
  symlinkSync(victim, socket);
  const output = await refusedStart(["--server-addr", `127.0.0.1:${server.port}`, "--listen-endpoint", socket], dir);
  expect(output).toContain("symbolic link");
  expect(output).not.toMatch(/\n\s+at /);
  expect(readlinkSync(socket)).toBe(victim);
  expect(readFileSync(victim, "utf8")).toBe("precious");
}, 15_000);

test("a symlink in place of a stale proxy socket is refused; the stale socket is not removed through it", async () => {
  const { dir, server } = await fixture();
  const stale = join(dir, "elsewhere.sock");
  staleSocket(stale);
  const proxy = join(dir, "proxy.sock");
  symlinkSync(stale, proxy);
  const output = await refusedStart(["--server-addr", `127.0.0.1:${server.port}`, "--proxy-endpoint", proxy], dir);
  expect(output).toContain("symbolic link");
  expect(lstatSync(proxy).isSymbolicLink()).toBe(true);
  expect(lstatSync(stale).isSocket()).toBe(true);
  // The API socket it may have bound before the proxy failed is cleaned up.
  expect(existsSync(join(dir, "tacacs.sock"))).toBe(false);
}, 15_000);

test("a plain stale socket is replaced; a socket swapped for a symlink while running is not removed through it", async () => {
  const { dir, server } = await fixture();
  const socket = join(dir, "tacacs.sock");
  staleSocket(socket);
  const proxy = join(dir, "proxy.sock");
  const args = ["--server-addr", `127.0.0.1:${server.port}`, "--listen-endpoint", socket, "--proxy-endpoint", proxy, "--socket-mode", "600"];
  const agent = await startAgent(args, { TACACSRS_SHARED_SECRET: SECRET }, { dir });
  cleanups.push(() => agent.stop());
  expect((await agent.tacon(["health"])).exit).toBe(0);
  // Both sockets carry --socket-mode.
  expect([socket, proxy].map((path) => lstatSync(path).mode & 0o777)).toEqual([0o600, 0o600]);
  // Someone moves the live socket away and plants a symlink to a file of theirs.
  const moved = join(dir, "moved.sock");
  renameSync(socket, moved);
  const victim = join(dir, "victim.txt");
  writeFileSync(victim, "precious");
  symlinkSync(victim, socket);
  expect(await agent.stop()).toBe(0);
  expect(readlinkSync(socket)).toBe(victim);
  expect(readFileSync(victim, "utf8")).toBe("precious");
  expect(existsSync(proxy)).toBe(false);
}, 15_000);
