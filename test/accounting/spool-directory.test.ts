/**
 * An unusable spool directory (issue 15): missing, a file, a symlink, world-writable, not
 * writable by the agent's user. Each exits 2 with one line naming the flag, both with
 * --check-config and at start; a usable one passes --check-config.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { chmodSync, mkdirSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { AGENT } from "../support/agent-process";
import { spoolDirectory } from "./harness";

const dirs = spoolDirectory();
afterAll(() => dirs.cleanup());

const base = ["--server-addr", "127.0.0.1:4915", "--shared-secret", "issue-15-accounting-secret", "--listen-endpoint", join(dirs.root, "agent.sock")];

function run(args: string[], asNobody = false) {
  const command = asNobody ? ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", AGENT, ...args] : [AGENT, ...args];
  const result = Bun.spawnSync(command, { timeout: 10_000, env: { PATH: process.env.PATH ?? "" } });
  return { exit: result.exitCode, stderr: result.stderr.toString(), stdout: result.stdout.toString() };
}

function cases(): [string, string, string, boolean][] {
  const file = join(dirs.root, "a-file");
  writeFileSync(file, "");
  const link = join(dirs.root, "a-link");
  symlinkSync(dirs.spool, link);
  const open = join(dirs.root, "world-writable");
  mkdirSync(open);
  chmodSync(open, 0o777);
  const locked = join(dirs.root, "root-only");
  mkdirSync(locked);
  chmodSync(locked, 0o755);
  chmodSync(dirs.root, 0o755);
  return [
    ["missing", join(dirs.root, "missing"), "does not exist", false],
    ["a file", file, "is not a directory", false],
    ["a symlink", link, "is a symbolic link", false],
    ["world-writable", open, "is world-writable", false],
    ["not writable", locked, "is not writable by this user", true],
  ];
}

describe("--accounting-spool-dir checks", () => {
  for (const [name, path, problem, asNobody] of cases()) {
    test(`${name}: exit 2 with one line, at --check-config and at start`, () => {
      for (const extra of [["--check-config"], []]) {
        const result = run([...base, "--accounting-spool-dir", path, ...extra], asNobody);
        expect(result.exit).toBe(2);
        expect(result.stderr).toBe(`tacacsrs-agentd: --accounting-spool-dir ${path}: ${problem}${result.stderr.split(problem)[1]}`);
        expect(result.stderr.trim().split("\n")).toHaveLength(1);
      }
    });
  }

  test("a usable directory passes --check-config; --print-config shows the accounting settings", () => {
    const result = run([...base, "--accounting-spool-dir", dirs.spool, "--accounting-log", "--check-config", "--print-config"]);
    expect(result.exit).toBe(0);
    expect(result.stdout).toContain("configuration OK");
    expect(JSON.parse(result.stdout.replace("configuration OK\n", "")).accounting).toEqual({ spoolDir: dirs.spool, spoolMaxBytes: 268435456, journal: true });
    const small = run([...base, "--accounting-spool-dir", dirs.spool, "--accounting-spool-max-bytes", "1000", "--check-config"]);
    expect(small.exit).toBe(2);
    expect(small.stderr).toContain("--accounting-spool-max-bytes");
  });
});
