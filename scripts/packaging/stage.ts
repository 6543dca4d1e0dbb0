/**
 * Lays the table of files.ts out below a staging directory, and reports what it staged so the
 * deb conffiles and the rpm %files list come from the same table.
 */
import { chmodSync, cpSync, mkdirSync, readFileSync, readdirSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { gzipSync } from "bun";
import { expand, LAYOUTS, PACKAGE_ENTRIES, type PackageFormat } from "./files";

export interface StagedPath {
  path: string;
  kind: "file" | "link" | "directory";
  mode: number;
  group: string;
  config: boolean;
}

function stageFile(from: string, to: string, mode: number): void {
  mkdirSync(dirname(to), { recursive: true });
  if (to.endsWith(".gz") && !from.endsWith(".gz")) writeFileSync(to, gzipSync(readFileSync(from), { level: 9 }));
  else cpSync(from, to);
  chmodSync(to, mode);
}

/** Stages every entry for `format` below `stage`; `values` adds placeholders such as `{bin}`. */
export function stageEntries(root: string, stage: string, format: PackageFormat, values: Record<string, string>): StagedPath[] {
  const names = { ...LAYOUTS[format], ...values };
  const staged: StagedPath[] = [];
  for (const entry of PACKAGE_ENTRIES) {
    if (entry.only && entry.only !== format) continue;
    const destination = expand(entry.destination, names);
    if ("link" in entry) {
      mkdirSync(dirname(`${stage}${destination}`), { recursive: true });
      symlinkSync(entry.link, `${stage}${destination}`);
      staged.push({ path: destination, kind: "link", mode: 0o777, group: "root", config: false });
    } else if ("directory" in entry) {
      mkdirSync(`${stage}${destination}`, { recursive: true });
      chmodSync(`${stage}${destination}`, entry.mode);
      staged.push({ path: destination, kind: "directory", mode: entry.mode, group: entry.group ?? "root", config: false });
    } else {
      const expanded = expand(entry.source, names);
      const source = expanded.startsWith("/") ? expanded : `${root}${expanded}`;
      const pairs = source.endsWith("/")
        ? readdirSync(source, { recursive: true, withFileTypes: true })
            .filter((item) => item.isFile())
            .map((item) => {
              const relative = `${item.parentPath}/${item.name}`.slice(source.length).replace(/^\/+/, "");
              return [`${source}${relative}`, `${destination}${relative}`] as const;
            })
        : [[source, destination] as const];
      for (const [from, to] of pairs.toSorted((a, b) => a[1].localeCompare(b[1]))) {
        stageFile(from, `${stage}${to}`, entry.mode);
        staged.push({ path: to, kind: "file", mode: entry.mode, group: "root", config: entry.config === true });
      }
    }
  }
  return staged;
}

/** Installed-Size of a Debian package: the staged files in KiB. */
export function installedSizeKiB(dir: string): number {
  let bytes = 0;
  for (const entry of readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (entry.isFile()) bytes += statSync(`${entry.parentPath}/${entry.name}`).size;
  }
  return Math.ceil(bytes / 1024);
}
