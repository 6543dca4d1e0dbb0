/**
 * Where each fan-out collector's spool lives: a subdirectory of the spool directory named by the
 * collector's address, `fan-out-<host:port>` (characters other than letters, digits, `.`, `_`
 * and `-` written as `_`). The address, not the server's name, because a server renamed in the
 * configuration (same address) is the same collector and keeps its spool; a directory whose
 * collector is no longer configured is kept with its records, never re-sent to the others (they
 * got every one of those records already).
 */
import { mkdirSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";

const PREFIX = "fan-out-";

/** The directory name of the collector at `address` ("host:port"). */
export function collectorDirectoryName(address: string): string {
  return `${PREFIX}${address.replace(/[^A-Za-z0-9._-]/g, "_")}`;
}

/** The collector directory `name` under `spoolDir`, created 0700 when missing. */
export function collectorDirectory(spoolDir: string, name: string): string {
  const dir = join(spoolDir, name);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  return dir;
}

/** The collector directories found under `spoolDir` (left by this run's configuration or an earlier one). */
export function collectorDirectoryNames(spoolDir: string): string[] {
  return readdirSync(spoolDir)
    .filter((name) => name.startsWith(PREFIX) && statSync(join(spoolDir, name), { throwIfNoEntry: false })?.isDirectory())
    .sort();
}
