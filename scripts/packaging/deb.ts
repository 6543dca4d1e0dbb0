/**
 * The .deb: the table of files.ts staged with Debian's paths, a control file, md5sums, and the
 * maintainer scripts of packaging/deb/ (deb-systemd-helper and deb-systemd-invoke, as
 * dh_installsystemd writes them), built with dpkg-deb (xz, time stamps clamped to SOURCE_DATE_EPOCH).
 */
import { $ } from "bun";
import { chmodSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { MAINTAINER } from "./changelog";
import { installedSizeKiB, stageEntries, type StagedPath } from "./stage";
import { PACKAGE_NAME, type PackageVariant } from "./variants";

export interface PackageJob extends PackageVariant {
  root: string;
  out: string;
  version: string;
  epoch: number;
  xzLevel: number;
  generated: string;
}

/** One summary line and the long description, wrapped under 80 columns (Debian policy §5.6.13). */
export const SUMMARY = "TACACS+ agent with gRPC API and local TACACS+ proxy";
export const DESCRIPTION = [
  "tacacsrs-agentd keeps persistent TACACS+ connections (RFC 8907, TLS 1.3 per",
  "RFC 9887) to an ordered list of upstream servers, with failover, and serves",
  "local clients through a gRPC API on a Unix socket (the tacon client) and an",
  "optional packet-transparent TACACS+ proxy for legacy clients.",
];

function control(job: PackageJob, installedSize: number): string {
  const variant = job.name !== PACKAGE_NAME;
  return [
    `Package: ${job.name}`,
    ...(variant ? [`Source: ${PACKAGE_NAME}`] : []),
    `Version: ${job.version}`,
    `Architecture: ${job.target.debArch}`,
    `Maintainer: ${MAINTAINER}`,
    `Installed-Size: ${installedSize}`,
    "Depends: libc6 (>= 2.27), adduser, init-system-helpers (>= 1.52)",
    ...(variant ? [`Conflicts: ${PACKAGE_NAME}`, `Replaces: ${PACKAGE_NAME}`, `Provides: ${PACKAGE_NAME} (= ${job.version})`] : []),
    "Section: net",
    "Priority: optional",
    "Homepage: https://example.invalid/tacacsrs-agentd",
    `Description: ${SUMMARY}${variant ? " (CPUs without AVX2)" : ""}`,
    ...DESCRIPTION.map((line) => ` ${line}`),
    "",
  ].join("\n");
}

/** `chgrp` lines for staged paths owned by a system group: dpkg-deb packs everything as root:root. */
function groupOwnership(staged: StagedPath[]): string {
  return staged
    .filter((item) => item.group !== "root")
    .map((item) => `    dpkg-statoverride --list ${item.path} >/dev/null || chgrp ${item.group} ${item.path}`)
    .join("\n");
}

function md5sums(stage: string, staged: StagedPath[]): string {
  return staged
    .filter((item) => item.kind === "file")
    .map((item) => `${new Bun.CryptoHasher("md5").update(readFileSync(`${stage}${item.path}`)).digest("hex")}  ${item.path.slice(1)}\n`)
    .toSorted()
    .join("");
}

export async function buildDeb(job: PackageJob): Promise<string> {
  const stage = `${job.out}/stage-deb-${job.target.name}`;
  rmSync(stage, { recursive: true, force: true });
  const staged = stageEntries(job.root, stage, "deb", { bin: job.binaryDir, name: job.name, generated: job.generated });
  mkdirSync(`${stage}/DEBIAN`);
  writeFileSync(`${stage}/DEBIAN/control`, control(job, installedSizeKiB(stage)));
  writeFileSync(`${stage}/DEBIAN/conffiles`, staged.filter((item) => item.config).map((item) => `${item.path}\n`).join(""));
  writeFileSync(`${stage}/DEBIAN/md5sums`, md5sums(stage, staged));
  for (const script of ["postinst", "prerm", "postrm"]) {
    const text = readFileSync(`${job.root}packaging/deb/${script}`, "utf8").replace("#GROUP_OWNERSHIP#", groupOwnership(staged));
    writeFileSync(`${stage}/DEBIAN/${script}`, text);
    chmodSync(`${stage}/DEBIAN/${script}`, 0o755);
  }
  const file = `${job.out}/${job.name}_${job.version}_${job.target.debArch}.deb`;
  await $`dpkg-deb --root-owner-group -Zxz -z${job.xzLevel} --build ${stage} ${file}`.quiet();
  rmSync(stage, { recursive: true, force: true });
  return file;
}
