/**
 * packaging/changelog, the one source of both changelogs, written as a Debian changelog
 * (deb-changelog(5)) and as an rpm %changelog section.
 */
import { readFileSync } from "node:fs";

export const MAINTAINER = "tacacsrs developers <maintainers@tacacsrs.invalid>";

export interface Release {
  version: string;
  /** Midnight UTC of the release day. */
  date: Date;
  changes: string[];
}

export function readChangelog(root: string, packageVersion: string): Release[] {
  const releases: Release[] = [];
  for (const [index, line] of readFileSync(`${root}packaging/changelog`, "utf8").split("\n").entries()) {
    if (line.startsWith("#") || line.trim() === "") continue;
    const where = `packaging/changelog:${index + 1}`;
    if (line.length > 76) throw new Error(`${where}: longer than 76 columns (the changelogs indent it by 4)`);
    const head = /^(\S+) (\d{4}-\d{2}-\d{2})$/.exec(line);
    const current = releases.at(-1);
    if (head) releases.push({ version: head[1]!, date: new Date(`${head[2]}T00:00:00Z`), changes: [] });
    else if (line.startsWith("- ") && current) current.changes.push(line.slice(2));
    else if (line.startsWith("  ") && current && current.changes.length > 0) current.changes[current.changes.length - 1] += `\n${line.trim()}`;
    else throw new Error(`${where}: expected "VERSION YYYY-MM-DD", "- change" or an indented continuation`);
  }
  if (releases[0]?.version !== packageVersion) {
    throw new Error(`packaging/changelog: the newest entry is ${releases[0]?.version ?? "missing"}, package.json says ${packageVersion}`);
  }
  return releases;
}

/** "Thu, 03 Dec 2026 00:00:00 +0000" (RFC 5322, as deb-changelog wants). */
function rfc5322(date: Date): string {
  return date.toUTCString().replace("GMT", "+0000");
}

/** "Thu Dec 03 2026" (as rpm wants). */
function rpmDate(date: Date): string {
  const [weekday, day, month, year] = date.toUTCString().replace(",", "").split(" ");
  return `${weekday} ${month} ${day} ${year}`;
}

export function debianChangelog(name: string, releases: Release[]): string {
  return releases
    .map((release) => {
      const changes = release.changes.map((change) => `  * ${change.replaceAll("\n", "\n    ")}`).join("\n");
      return `${name} (${release.version}) unstable; urgency=medium\n\n${changes}\n\n -- ${MAINTAINER}  ${rfc5322(release.date)}\n`;
    })
    .join("\n");
}

export function rpmChangelog(releases: Release[], rpmRelease: string): string {
  return releases
    .map((release) => {
      const changes = release.changes.map((change) => `- ${change.replaceAll("\n", "\n  ")}`).join("\n");
      return `* ${rpmDate(release.date)} ${MAINTAINER} - ${release.version}-${rpmRelease}\n${changes}\n`;
    })
    .join("\n");
}
