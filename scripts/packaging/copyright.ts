/**
 * The machine-readable copyright file (DEP-5) both packages ship: the project, every npm package
 * compiled into the binary (found from package.json and node_modules at build time, so the list
 * cannot go stale), then the Bun runtime and what it links statically (packaging/copyright/bun-runtime).
 */
import { existsSync, readFileSync, readdirSync } from "node:fs";

/** Licences Debian ships in /usr/share/common-licenses: referenced there, never copied (Debian policy §12.5). */
const COMMON_LICENSES: Record<string, string> = {
  "Apache-2.0": "Apache-2.0",
  "LGPL-2": "LGPL-2",
  "LGPL-2.1": "LGPL-2.1",
  "GPL-2": "GPL-2",
};

interface NpmPackage {
  name: string;
  version: string;
  license: string;
  copyright: string[];
  licenseText: string;
}

function readPackage(root: string, name: string): NpmPackage {
  const dir = `${root}node_modules/${name}`;
  const meta = JSON.parse(readFileSync(`${dir}/package.json`, "utf8")) as {
    version: string;
    license?: string;
    author?: string | { name: string; email?: string };
  };
  if (!meta.license) throw new Error(`node_modules/${name}: package.json names no licence; cannot write its copyright notice`);
  const licenseFile = readdirSync(dir).find((file) => /^(licen[cs]e|copying)(\.(md|txt))?$/i.test(file));
  if (!licenseFile) throw new Error(`node_modules/${name}: no LICENSE file; cannot write its copyright notice`);
  const licenseText = readFileSync(`${dir}/${licenseFile}`, "utf8").trim();
  // Real notices only ("Copyright (c) 2016, …", "Copyright © …"), not the Apache appendix's "Copyright [yyyy]".
  const notices = licenseText.split("\n").map((line) => line.trim()).filter((line) => /^copyright\s+(\(c\)|©|\d)/i.test(line));
  const author = typeof meta.author === "string" ? meta.author : meta.author ? `${meta.author.name}${meta.author.email ? ` <${meta.author.email}>` : ""}` : "";
  const copyright = notices.length > 0 ? notices.map((line) => line.replace(/^copyright\s+(\(c\)\s*)?/i, "")) : author ? [author] : [];
  if (copyright.length === 0) throw new Error(`node_modules/${name}: no copyright notice in its LICENSE or package.json`);
  return { name, version: meta.version, license: meta.license, copyright, licenseText };
}

/** The production dependencies of the project, transitively (what `bun build` can bundle). */
export function bundledPackages(root: string): NpmPackage[] {
  const seen = new Map<string, NpmPackage>();
  const visit = (manifest: string): void => {
    const deps = (JSON.parse(readFileSync(manifest, "utf8")) as { dependencies?: Record<string, string> }).dependencies ?? {};
    for (const name of Object.keys(deps)) {
      if (seen.has(name)) continue;
      if (!existsSync(`${root}node_modules/${name}/package.json`)) throw new Error(`dependency ${name} is not installed (run npm ci)`);
      seen.set(name, readPackage(root, name));
      visit(`${root}node_modules/${name}/package.json`);
    }
  };
  visit(`${root}package.json`);
  return [...seen.values()].toSorted((a, b) => a.name.localeCompare(b.name));
}

/** A DEP-5 multi-line value: continuation lines indented by one space, blank lines as " .". */
function block(text: string): string {
  return text
    .split("\n")
    .map((line) => (line.trim() === "" ? " ." : ` ${line.trimEnd()}`))
    .join("\n");
}

function licenseField(license: string, text: string): string {
  const common = COMMON_LICENSES[license];
  if (common) return `License: ${license}\n On Debian systems the full text is in /usr/share/common-licenses/${common}.`;
  return `License: ${license}\n${block(text)}`;
}

export function copyrightFile(root: string, firstYear: number, lastYear: number): string {
  const project = JSON.parse(readFileSync(`${root}package.json`, "utf8")) as { name: string; license: string };
  const bunVersion = (JSON.parse(readFileSync(`${root}node_modules/bun/package.json`, "utf8")) as { version: string }).version;
  const years = firstYear === lastYear ? `${firstYear}` : `${firstYear}-${lastYear}`;
  const paragraphs = [
    [
      "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/",
      `Upstream-Name: ${project.name}`,
      "Comment: /usr/bin/tacacsrs-agentd is a Bun single-file executable: the Bun runtime with the",
      " program and the npm packages below compiled in. Each part keeps its own licence.",
    ].join("\n"),
    [
      "Files: *",
      `Copyright: ${years} tacacsrs developers`,
      licenseField(project.license, ""),
    ].join("\n"),
    ...bundledPackages(root).map((pkg) =>
      [
        `Files: node_modules/${pkg.name}/*`,
        `Copyright: ${pkg.copyright.join("\n ")}`,
        `Comment: npm package ${pkg.name} ${pkg.version}, bundled into the executable.`,
        licenseField(pkg.license, pkg.licenseText),
      ].join("\n"),
    ),
    readFileSync(`${root}packaging/copyright/bun-runtime`, "utf8").trim().replaceAll("{bun_version}", bunVersion),
  ];
  return `${paragraphs.join("\n\n")}\n`;
}
