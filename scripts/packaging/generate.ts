/**
 * The package documents made at build time from sources in the repository, so they cannot
 * drift: the DEP-5 copyright file (from node_modules), the changelogs (from packaging/changelog),
 * the man pages and the bash completion (from the citty definitions behind `--help`).
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { debianChangelog, readChangelog, rpmChangelog } from "./changelog";
import { FLAGS } from "../../src/config/definition";
import { ARGS as TACON_ARGS, COMMANDS } from "../../src/tacon/index";
import { bashCompletion } from "./completion";
import { copyrightFile } from "./copyright";
import { renderManPage } from "./manpage";
import { agentManPage, auditPluginManPage, sessionManPage, taconManPage } from "./pages";
import { PACKAGE_NAME } from "./variants";

export function generateDocuments(root: string, dir: string, version: string, epoch: number): void {
  mkdirSync(dir, { recursive: true });
  const releases = readChangelog(root, version);
  const firstYear = releases.at(-1)!.date.getUTCFullYear();
  writeFileSync(`${dir}/copyright`, copyrightFile(root, firstYear, new Date(epoch * 1000).getUTCFullYear()));
  writeFileSync(`${dir}/changelog.Debian`, debianChangelog(PACKAGE_NAME, releases));
  writeFileSync(`${dir}/changelog.rpm`, rpmChangelog(releases, "1"));
  const date = releases[0]!.date.toISOString().slice(0, 10);
  writeFileSync(`${dir}/tacacsrs-agentd.8`, renderManPage(agentManPage(version, date)));
  writeFileSync(`${dir}/tacon.1`, renderManPage(taconManPage(version, date)));
  writeFileSync(`${dir}/tacacsrs-audit-plugin.8`, renderManPage(auditPluginManPage(version, date)));
  writeFileSync(`${dir}/tacacs-session.8`, renderManPage(sessionManPage(version, date)));
  writeFileSync(`${dir}/tacacsrs-agentd.bash`, bashCompletion({ name: "tacacsrs-agentd", args: FLAGS }));
  writeFileSync(`${dir}/tacon.bash`, bashCompletion({ name: "tacon", args: TACON_ARGS, commands: COMMANDS.map(([name, operands]) => [name, operands] as const) }));
}
