/**
 * The restrictions of a systemd unit applied to a process without systemd as PID 1, so a test can
 * prove that the shipped unit's hardening does not break the agent (issue 20). From the unit's own
 * lines:
 *
 *   PrivateMounts=yes            unshare --mount --propagation private
 *   ProtectProc=, ProcSubset=    a new procfs on /proc with hidepid=…,subset=… (in that namespace)
 *   UMask=                       umask
 *   User= (a test user instead), NoNewPrivileges=, CapabilityBoundingSet=, AmbientCapabilities=
 *                                setpriv
 *   SystemCallFilter=, SystemCallErrorNumber=, SystemCallArchitectures=native,
 *   RestrictAddressFamilies=     test/support/seccomp-exec.py (libseccomp), the set expanded by
 *                                `systemd-analyze syscall-filter` as systemd would
 *
 * Every launcher step ends in exec, so the agent keeps the pid the test spawned.
 */
import { $ } from "bun";
import { writeFileSync } from "node:fs";
import { join } from "node:path";

const FAMILIES: Record<string, number> = { AF_UNIX: 1, AF_INET: 2, AF_INET6: 10 };

/** `Name=value` lines of the unit's [Service] section, every value of a repeated name in order. */
export function unitDirectives(unit: string): Map<string, string[]> {
  const directives = new Map<string, string[]>();
  for (const line of unit.split("\n")) {
    const match = /^([A-Za-z]+)=(.*)$/.exec(line.trim());
    if (!match) continue;
    directives.set(match[1]!, [...(directives.get(match[1]!) ?? []), match[2]!]);
  }
  return directives;
}

function one(directives: Map<string, string[]>, name: string): string {
  const values = directives.get(name);
  if (!values || values.length !== 1) throw new Error(`the unit must set ${name}= once (the sandbox reproduces it)`);
  return values[0]!;
}

/** The system calls SystemCallFilter= lines allow: the first list, less every "~" list (systemd.exec(5)). */
export async function allowedSyscalls(filters: string[]): Promise<string[]> {
  const listing = await $`systemd-analyze syscall-filter`.quiet().text();
  const groups = new Map<string, string[]>();
  let current: string[] | undefined;
  for (const line of listing.split("\n")) {
    if (line.startsWith("@")) groups.set(line.trim(), (current = []));
    else if (current && /^\s+[@a-z0-9_-]+$/.test(line)) current.push(line.trim());
  }
  const expand = (entry: string): string[] => (entry.startsWith("@") ? (groups.get(entry) ?? []).flatMap(expand) : [entry]);
  const allowed = new Set<string>();
  for (const filter of filters) {
    const deny = filter.startsWith("~");
    const entries = filter.replace(/^~/, "").split(/\s+/).filter(Boolean).flatMap(expand);
    if (entries.length === 0) throw new Error(`SystemCallFilter=${filter}: expands to nothing`);
    for (const name of entries) deny ? allowed.delete(name) : allowed.add(name);
  }
  return [...allowed].toSorted();
}

export interface Sandbox {
  /** The command that runs what follows it under the unit's restrictions. */
  prefix: string[];
  /** What the sandbox reproduced, for the test's report. */
  applied: string[];
}

/** A launcher for `unit` running as `user`:`group`; `dir` receives the system call list. */
export async function serviceSandbox(unit: string, user: string, group: string, dir: string): Promise<Sandbox> {
  const d = unitDirectives(unit);
  const filters = d.get("SystemCallFilter") ?? [];
  if (filters.length === 0) throw new Error("the unit sets no SystemCallFilter=");
  if (one(d, "SystemCallErrorNumber") !== "EPERM") throw new Error("seccomp-exec.py answers EPERM: SystemCallErrorNumber= must be EPERM");
  if (one(d, "SystemCallArchitectures") !== "native") throw new Error("SystemCallArchitectures= must be native");
  if (one(d, "PrivateMounts") !== "yes") throw new Error("PrivateMounts= must be yes");
  if (one(d, "NoNewPrivileges") !== "yes") throw new Error("NoNewPrivileges= must be yes");
  const syscalls = join(dir, "allowed-syscalls");
  writeFileSync(syscalls, `${(await allowedSyscalls(filters)).join("\n")}\n`);
  const families = one(d, "RestrictAddressFamilies")
    .split(/\s+/)
    .map((name) => {
      const number = FAMILIES[name];
      if (number === undefined) throw new Error(`RestrictAddressFamilies=: ${name} is not mapped in the sandbox`);
      return number;
    })
    .join(",");
  const caps = (name: string) => one(d, name).split(/\s+/).map((cap) => `+${cap.replace(/^CAP_/, "").toLowerCase()}`).join(",");
  const procOptions = `hidepid=${one(d, "ProtectProc")},subset=${one(d, "ProcSubset")}`;
  const seccompExec = new URL("./seccomp-exec.py", import.meta.url).pathname;
  // prettier-ignore
  const inner = [
    "set -e",
    `mount -t proc -o ${procOptions} proc /proc`,
    `umask ${one(d, "UMask")}`,
    `exec setpriv --reuid ${user} --regid ${group} --clear-groups --no-new-privs` +
      ` --inh-caps -all,${caps("AmbientCapabilities")} --ambient-caps -all,${caps("AmbientCapabilities")}` +
      ` --bounding-set -all,${caps("CapabilityBoundingSet")}` +
      ` -- /usr/bin/python3 ${seccompExec} ${syscalls} ${families} -- "$@"`,
  ].join("\n");
  return {
    prefix: ["unshare", "--mount", "--propagation", "private", "--", "/bin/sh", "-c", inner, "sandbox"],
    applied: [
      "PrivateMounts=yes",
      `ProtectProc=/ProcSubset= (${procOptions})`,
      `UMask=${one(d, "UMask")}`,
      `User=${user} NoNewPrivileges=yes CapabilityBoundingSet=/AmbientCapabilities=${caps("AmbientCapabilities")}`,
      `SystemCallFilter= (${filters.join(" / ")}) SystemCallErrorNumber=EPERM SystemCallArchitectures=native`,
      `RestrictAddressFamilies=${families}`,
    ],
  };
}
