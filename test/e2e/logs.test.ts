/**
 * Logs that fit the host (issue 16), from the compiled binaries: with JOURNAL_STREAM naming the
 * agent's stderr (a file here, as systemd names the journal's stream socket) every line starts
 * with an sd-daemon priority and has no colour and no time stamp; --log-format json writes one
 * object per line; a repeated warning is written once and summarized; `tacon --help | cat` and
 * NO_COLOR have no escape codes.
 */
import { afterEach, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { $ } from "bun";
import { AGENT, TACON } from "../support/agent-process";
import { startTacacsServer } from "../support/tacacs-server";
import { until } from "../support/wait";

const SECRET = "logs-issue16-secret-0123";
const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => {});
});

/** Runs the agent with stderr into a file until `work` is done; returns the log. */
async function agentLog(args: string[], env: (logPath: string) => Record<string, string>, work: (socket: string) => Promise<void>): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), "tacacsrs-logs16-"));
  cleanups.push(async () => rmSync(dir, { recursive: true, force: true }));
  const logPath = join(dir, "stderr.log");
  writeFileSync(logPath, "");
  const socket = join(dir, "tacacs.sock");
  const child = Bun.spawn([AGENT, ...args, "--listen-endpoint", socket], {
    env: { PATH: process.env.PATH ?? "", ...env(logPath) },
    stdout: "ignore",
    stderr: Bun.file(logPath),
  });
  cleanups.push(async () => {
    child.kill("SIGKILL");
    await child.exited;
  });
  await until(() => readFileSync(logPath, "utf8").includes("warm-up: connected"), 10_000, "the warm-up");
  await work(socket);
  child.kill("SIGTERM");
  expect(await child.exited).toBe(0);
  return readFileSync(logPath, "utf8");
}

const tacon = (socket: string, args: string[]) => $`${TACON} --service-endpoint ${socket} ${args}`.nothrow().quiet();

test("under systemd (JOURNAL_STREAM = stderr): sd-daemon priority prefixes, no colour, no time stamp", async () => {
  // A short secret, for a warning line.
  const server = await startTacacsServer({ key: "short" });
  cleanups.push(() => server.stop());
  const journalOf = (path: string) => {
    const { dev, ino } = statSync(path, { bigint: true });
    // FORCE_COLOR and TERM would colour a terminal; the journal never is one.
    return { JOURNAL_STREAM: `${dev}:${ino}`, TERM: "xterm-256color", FORCE_COLOR: "1" };
  };
  const log = await agentLog(["--server-addr", `127.0.0.1:${server.port}`, "--shared-secret", "short", "-vvv"], journalOf, async (socket) => {
    expect((await tacon(socket, ["--user", "alice", "accounting", "show version"])).exitCode).toBe(0);
  });
  const lines = log.trimEnd().split("\n");
  expect(lines.length).toBeGreaterThan(4);
  for (const line of lines) expect(line).toMatch(/^<[3467]>\[[a-z-]+\] /);
  expect(log).not.toContain("\u001b");
  expect(log).not.toMatch(/\d\d:\d\d:\d\d/);
  expect(lines.some((line) => line.startsWith("<4>") && line.includes("shorter than 16 characters"))).toBe(true);
  expect(lines.some((line) => line.startsWith("<6>") && line.includes("client API listening"))).toBe(true);
  expect(lines.some((line) => line.startsWith("<7>"))).toBe(true);
}, 30_000);

test("--log-format json: one object per line with time, level, component and message", async () => {
  const server = await startTacacsServer({ key: SECRET });
  cleanups.push(() => server.stop());
  const log = await agentLog(["--server-addr", `127.0.0.1:${server.port}`, "--shared-secret", SECRET, "--log-format", "json", "-vv"], () => ({}), async () => {});
  const objects = log.trimEnd().split("\n").map((line) => JSON.parse(line) as Record<string, string>);
  expect(objects.length).toBeGreaterThan(2);
  for (const object of objects) {
    expect(Object.keys(object).slice(0, 4)).toEqual(["time", "level", "component", "message"]);
    expect(Number.isNaN(Date.parse(object.time!))).toBe(false);
  }
  expect(objects).toContainEqual(expect.objectContaining({ level: "info", component: "daemon", message: expect.stringContaining("client API listening") }));
  const bad = await $`${AGENT} --server-addr 127.0.0.1:49 --log-format xml --check-config`.nothrow().quiet();
  expect(bad.exitCode).toBe(2);
  expect(bad.stderr.toString()).toContain("--log-format");
}, 30_000);

test("a warning repeated by every request is written once, then summarized with a count", async () => {
  // A server that answers ERROR to everything: each request warns that it replied ERROR.
  const [one, two] = [await startTacacsServer({ key: SECRET, faults: { replyStatus: "error" } }), await startTacacsServer({ key: SECRET })];
  cleanups.push(() => one.stop(), () => two.stop());
  const log = await agentLog(["--server-addr", `127.0.0.1:${one.port}`, "--server-addr", `127.0.0.1:${two.port}`, "--shared-secret", SECRET, "-vv"], () => ({}), async (socket) => {
    for (let i = 0; i < 3; i++) expect((await tacon(socket, ["--user", "alice", "authorization", "show version"])).exitCode).toBe(0);
  });
  const repeated = log.split("\n").filter((line) => line.includes(`127.0.0.1:${one.port} replied ERROR`));
  expect(repeated).toHaveLength(1);
}, 30_000);

test("no escape codes from tacon --help through a pipe, nor with NO_COLOR", async () => {
  const piped = await $`${TACON} --help | cat`.quiet();
  expect(piped.stdout.toString()).toContain("USAGE");
  expect(piped.stdout.toString()).not.toContain("\u001b");
  const noColor = await $`script -qc ${`NO_COLOR=1 ${TACON} --help`} /dev/null`.nothrow().quiet();
  if (noColor.exitCode === 0) expect(noColor.stdout.toString()).not.toContain("\u001b[");
  const agentHelp = await $`${AGENT} --help | cat`.quiet();
  expect(agentHelp.stdout.toString()).not.toContain("\u001b");
});
