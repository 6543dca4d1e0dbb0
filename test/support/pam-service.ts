/**
 * A PAM service file of a test under /etc/pam.d/, removed on `remove()` (call it in
 * finally/afterAll) or, failing that, when the test process exits. Names must start with
 * "tacacsrs-test-" and be unique per issue (e.g. "tacacsrs-test-17-pamtester"), so that tests of
 * several engineers on one machine never share a file. Root only.
 *
 *   const service = installPamService("tacacsrs-test-17-x", "auth required pam_permit.so\n");
 *   try { await $`pamtester ${service.name} alice authenticate`; } finally { service.remove(); }
 */
import { existsSync, rmSync, writeFileSync } from "node:fs";
import { onExitCleanup } from "./exit-cleanup";

export const PAM_SERVICE_PREFIX = "tacacsrs-test-";
const PAM_DIR = "/etc/pam.d";

export interface PamService {
  readonly name: string;
  readonly path: string;
  /** Replaces the file's content (PAM reads it at each pam_start). */
  write(content: string): void;
  remove(): void;
}

export function installPamService(name: string, content: string): PamService {
  if (!name.startsWith(PAM_SERVICE_PREFIX) || !/^[a-z0-9-]+$/.test(name)) {
    throw new Error(`test PAM service names start with "${PAM_SERVICE_PREFIX}" and are [a-z0-9-]: "${name}"`);
  }
  if (process.getuid?.() !== 0) throw new Error(`installing ${PAM_DIR}/${name} needs root`);
  const path = `${PAM_DIR}/${name}`;
  const remove = () => rmSync(path, { force: true });
  const cancelHook = onExitCleanup(remove);
  const write = (text: string) => writeFileSync(path, text, { mode: 0o644 });
  write(content);
  return {
    name,
    path,
    write,
    remove() {
      cancelHook();
      if (existsSync(path)) remove();
    },
  };
}
