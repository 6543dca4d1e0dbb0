/**
 * Debian's auditd in the foreground with a private configuration, for the audit-plugin tests and
 * the fixture capture script: `auditd -f -c DIR`, one plugin in DIR/plugins.d, execve rules for
 * one login uid under one key. `stop()` restores the kernel's audit state as it was found (our
 * rules deleted, the enabled flag put back) and stops auditd, also when the caller failed.
 *
 *   const auditd = await startAuditd({ key: "tacacsrs-test-22", auid: 61022, plugin: { path, args } });
 *   try { ... } finally { await auditd.stop(); }
 */
import { $, type Subprocess } from "bun";
import { chmodSync, mkdtempSync, rmSync, writeFileSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface AuditdOptions {
  /** The rule key; the rules of this key are deleted on stop. Unique per test. */
  key: string;
  /** Only execs of processes with this login uid are audited. */
  auid: number;
  /** Audited system calls (default execve; add exit_group for process ends). */
  syscalls?: string[];
  /** The plugin auditd starts (absolute path, arguments separated by spaces). */
  plugin: { path: string; args: string[] };
}

export interface Auditd {
  readonly dir: string;
  /** auditd's own output (stderr), for failure messages. */
  output(): string;
  stop(): Promise<void>;
}

/** Why audit cannot be used here, or undefined when it can (root, auditd and a kernel with audit). */
export async function auditUnavailable(): Promise<string | undefined> {
  if (process.getuid?.() !== 0) return "needs root";
  if ((await $`which auditd auditctl`.nothrow().quiet()).exitCode !== 0) return "auditd is not installed (Debian package auditd)";
  const status = await $`auditctl -s`.nothrow().quiet();
  if (status.exitCode !== 0) return `the kernel refuses audit: ${status.stderr.toString().trim()}`;
  if (/^enabled 2$/m.test(status.stdout.toString())) return "audit is locked (enabled 2): rules cannot be changed";
  if (!/^pid 0$/m.test(status.stdout.toString())) return "another audit daemon is running";
  return undefined;
}

async function enabledFlag(): Promise<string> {
  const status = (await $`auditctl -s`.quiet().text()).match(/^enabled (\d)$/m);
  if (!status) throw new Error("auditctl -s did not report the enabled flag");
  return status[1]!;
}

/** One rule per architecture the machine may run (a 64-bit kernel also runs 32-bit programs). */
function ruleArgs(options: AuditdOptions): string[][] {
  const syscalls = (options.syscalls ?? ["execve"]).flatMap((name) => ["-S", name]);
  return ["b64", "b32"].map((arch) => ["-a", "always,exit", "-F", `arch=${arch}`, ...syscalls, "-F", `auid=${options.auid}`, "-k", options.key]);
}

export async function startAuditd(options: AuditdOptions): Promise<Auditd> {
  const why = await auditUnavailable();
  if (why) throw new Error(`audit unavailable: ${why}`);
  const dir = mkdtempSync(join(tmpdir(), `${options.key}-auditd-`));
  chmodSync(dir, 0o700);
  mkdirSync(join(dir, "plugins.d"), { mode: 0o700 });
  const conf = [
    "local_events = yes",
    "write_logs = yes",
    `log_file = ${join(dir, "audit.log")}`,
    "log_format = ENRICHED",
    "flush = NONE",
    "max_log_file = 8",
    "max_log_file_action = ROTATE",
    "num_logs = 2",
    "space_left = 2",
    "space_left_action = IGNORE",
    "admin_space_left = 1",
    "admin_space_left_action = IGNORE",
    "disk_full_action = IGNORE",
    "disk_error_action = IGNORE",
    "name_format = NONE",
    "q_depth = 4000",
    "overflow_action = SYSLOG",
    "max_restarts = 0",
    `plugin_dir = ${join(dir, "plugins.d")}`,
    "end_of_event_timeout = 2",
    "",
  ].join("\n");
  writeFileSync(join(dir, "auditd.conf"), conf, { mode: 0o600 });
  writeFileSync(
    join(dir, "plugins.d", "plugin.conf"),
    ["active = yes", "direction = out", `path = ${options.plugin.path}`, "type = always", `args = ${options.plugin.args.join(" ")}`, "format = string", ""].join("\n"),
    { mode: 0o600 },
  );

  const wasEnabled = await enabledFlag();
  let output = "";
  let child: Subprocess<"ignore", "ignore", "pipe"> | undefined;
  let rulesAdded = false;
  const stop = async () => {
    if (rulesAdded) await $`auditctl -D -k ${options.key}`.nothrow().quiet();
    if (child && child.exitCode === null) {
      child.kill("SIGTERM");
      const timer = setTimeout(() => child?.kill("SIGKILL"), 5_000);
      await child.exited;
      clearTimeout(timer);
    }
    await $`auditctl -e ${wasEnabled}`.nothrow().quiet();
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    // -s nochange: auditd leaves the enabled flag to us (it is put back on stop).
    child = Bun.spawn(["auditd", "-f", "-n", "-s", "nochange", "-c", dir], { stdin: "ignore", stdout: "ignore", stderr: "pipe" });
    void (async () => {
      for await (const chunk of child!.stderr) output += new TextDecoder().decode(chunk);
    })();
    const deadline = Date.now() + 10_000;
    while (!new RegExp(`^pid ${child.pid}$`, "m").test(await $`auditctl -s`.quiet().text())) {
      if (child.exitCode !== null) throw new Error(`auditd exited with status ${child.exitCode}: ${output}`);
      if (Date.now() > deadline) throw new Error(`auditd did not register with the kernel within 10 s: ${output}`);
      await Bun.sleep(50);
    }
    rulesAdded = true;
    for (const rule of ruleArgs(options)) await $`auditctl ${rule}`.quiet();
    await $`auditctl -e 1`.quiet();
  } catch (error) {
    await stop();
    throw error;
  }
  return { dir, output: () => output, stop };
}

/**
 * Runs `script` in /bin/sh with login uid `auid` (a fresh audit session), as that uid.
 * The shell prints its audit session id on the first line, then waits for one line on stdin
 * (a shell builtin: no exec) before it runs anything else, so the caller can register the
 * session first. After that line come the execs of setpriv, /bin/sh and the script.
 */
export function spawnAuditedShell(auid: number, script: string): Subprocess<"pipe", "pipe", "pipe"> {
  const quoted = `'${script.replaceAll("'", "'\\''")}'`;
  return Bun.spawn(
    ["/bin/sh", "-c", `echo ${auid} > /proc/self/loginuid && cat /proc/self/sessionid && echo && read go && exec setpriv --reuid=${auid} --regid=${auid} --clear-groups /bin/sh -c ${quoted}`],
    { stdin: "pipe", stdout: "pipe", stderr: "pipe", cwd: "/tmp" },
  );
}
