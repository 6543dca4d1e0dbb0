/**
 * Captures real audit records (auditd's plugin string format) into test/fixtures/audit/, for the
 * audit plugin's unit tests: exec-records.txt (execve only: plain, hex-encoded, split and
 * numerous arguments, failed execs) and exit-records.txt (execve and exit_group, for STOP
 * records). Root only; uses the private auditd of test/support/auditd.ts (the kernel's audit
 * state is restored afterwards). The unit tests name events by serial: update them after a capture.
 *
 *   sudo bun scripts/audit/capture-fixtures.ts
 */
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { auditUnavailable, spawnAuditedShell, startAuditd } from "../../test/support/auditd";

const root = new URL("../..", import.meta.url).pathname;
const KEY = "tacacsrs-capture-22";
const AUID = 61122;

const why = await auditUnavailable();
if (why) {
  console.error(`capture-fixtures: ${why}`);
  process.exit(2);
}
/** Runs `script` in an audited login session with tee as the plugin; writes what auditd dispatched to `name`. */
async function capture(name: string, syscalls: string[], script: string): Promise<void> {
  const out = `/tmp/${KEY}-${name}`;
  writeFileSync(out, "");
  // tee is the plugin: it copies what auditd dispatches into the file.
  const auditd = await startAuditd({ key: KEY, auid: AUID, syscalls, plugin: { path: "/usr/bin/tee", args: ["-a", out] } });
  try {
    const shell = spawnAuditedShell(AUID, script);
    shell.stdin.write("go\n");
    shell.stdin.end();
    await shell.exited;
    // auditd hands events to the plugin as they complete; give the dispatcher a moment.
    await Bun.sleep(3000);
  } finally {
    await auditd.stop();
  }
  const records = readFileSync(out, "utf8");
  const target = join(root, "test/fixtures/audit", name);
  writeFileSync(target, records);
  console.log(`captured ${records.split("\n").length - 1} records into ${target}`);
}

const long = "x".repeat(9000);
const many = Array.from({ length: 600 }, (_, i) => `arg${i}`).join(" ");
await capture(
  "exec-records.txt",
  ["execve"],
  [
    "/bin/true plain words",
    "/bin/echo 'with space' \"quote\\\"d\" tab\there été > /dev/null",
    `/bin/echo ${long} > /dev/null`,
    `/bin/echo ${many} > /dev/null`,
    "/nonexistent/program 2>/dev/null",
    "/bin/sh -c 'exit 3'",
    "true",
  ].join("; "),
);
await capture("exit-records.txt", ["execve", "exit_group"], "/bin/true x; /bin/sh -c 'exit 7'");
