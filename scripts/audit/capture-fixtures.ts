/**
 * Captures real audit records (auditd's plugin string format) into test/fixtures/audit/, for the
 * audit plugin's unit tests. Root only; uses the private auditd of test/support/auditd.ts (the
 * kernel's audit state is restored afterwards).
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
const out = `/tmp/${KEY}-records.txt`;
writeFileSync(out, "");
// tee is the plugin: it copies what auditd dispatches into the file.
const auditd = await startAuditd({ key: KEY, auid: AUID, plugin: { path: "/usr/bin/tee", args: ["-a", out] } });
try {
  const long = "x".repeat(9000);
  const many = Array.from({ length: 600 }, (_, i) => `arg${i}`).join(" ");
  const shell = spawnAuditedShell(
    AUID,
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
  shell.stdin.write("go\n");
  shell.stdin.end();
  await shell.exited;
  // auditd hands events to the plugin as they complete; give the dispatcher a moment.
  await Bun.sleep(3000);
} finally {
  await auditd.stop();
}
const records = readFileSync(out, "utf8");
const target = join(root, "test/fixtures/audit/exec-records.txt");
writeFileSync(target, records);
console.log(`captured ${records.split("\n").length - 1} records into ${target}`);
