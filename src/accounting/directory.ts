/**
 * Is a spool directory usable? Checked at start and by --check-config, so an operator learns it
 * before the first outage, not during it. The agent refuses a directory another user could write
 * into or redirect: the spool holds the host's audit trail.
 */
import { accessSync, constants, lstatSync } from "node:fs";

/** The problem with `path` as a spool directory, as the end of one sentence; undefined when usable. */
export function spoolDirectoryProblem(path: string): string | undefined {
  if (!path.startsWith("/")) return "must be an absolute path";
  let stat;
  try {
    stat = lstatSync(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    return code === "ENOENT" ? "does not exist (create it, owned by the agent's user, mode 0700)" : `cannot be read (${code ?? "error"})`;
  }
  if (stat.isSymbolicLink()) return "is a symbolic link; give the real directory";
  if (!stat.isDirectory()) return "is not a directory";
  if (stat.mode & 0o002) return `is world-writable (mode ${(stat.mode & 0o7777).toString(8)}); use 0700`;
  try {
    accessSync(path, constants.W_OK | constants.X_OK);
  } catch {
    return "is not writable by this user";
  }
  return undefined;
}
