/**
 * The .rpm: the table of files.ts staged with RPM's paths, packaging/rpm/tacacsrs-agentd.spec
 * with the summary, description, variant tags, %files list and %changelog filled in, built by rpmbuild (xz payload, reproducible:
 * time stamps clamped to SOURCE_DATE_EPOCH, which is also the build time).
 */
import { $ } from "bun";
import { cpSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import type { PackageJob } from "./deb";
import { DESCRIPTION, SUMMARY } from "./deb";
import { MAINTAINER } from "./changelog";
import { stageEntries, type StagedPath } from "./stage";
import { PACKAGE_NAME } from "./variants";

/** The rpm %files list (`%files -f`): every staged path with its mode, and the directories the package owns. */
function rpmFileList(staged: StagedPath[], name: string): string {
  const ownedRoots = [`/usr/share/doc/${name}`, `/usr/share/licenses/${name}`];
  const owned = new Set<string>();
  const lines = staged.map((item) => {
    if (item.kind === "link") return item.path;
    const attr = `%attr(${item.mode.toString(8).padStart(4, "0")},root,${item.group})`;
    if (item.kind === "directory") return `%dir ${attr} ${item.path}`;
    for (let dir = item.path.replace(/\/[^/]+$/, ""); ownedRoots.some((top) => dir.startsWith(top)); dir = dir.replace(/\/[^/]+$/, "")) owned.add(dir);
    const marker = item.config ? "%config(noreplace) " : item.path.startsWith("/usr/share/licenses/") ? "%license " : item.path.startsWith("/usr/share/doc/") ? "%doc " : "";
    return `${marker}${attr} ${item.path}`;
  });
  return [...[...owned].toSorted().map((dir) => `%dir ${dir}`), ...lines, ""].join("\n");
}

export async function buildRpm(job: PackageJob): Promise<string> {
  const stage = `${job.out}/stage-rpm-${job.target.name}`;
  const top = `${job.out}/rpmbuild-${job.target.name}`;
  rmSync(stage, { recursive: true, force: true });
  rmSync(top, { recursive: true, force: true });
  const staged = stageEntries(job.root, stage, "rpm", { bin: job.binaryDir, name: job.name, generated: job.generated });
  mkdirSync(top, { recursive: true });
  writeFileSync(`${top}/files.list`, rpmFileList(staged, job.name));
  const variant = job.name !== PACKAGE_NAME;
  const spec = [
    readFileSync(`${job.root}packaging/rpm/tacacsrs-agentd.spec`, "utf8")
      .replace("@SUMMARY@", `${SUMMARY}${variant ? " (CPUs without AVX2)" : ""}`)
      .replace("@DESCRIPTION@", DESCRIPTION.join("\n"))
      // No Obsoletes: dnf would then swap every host's tacacsrs-agentd for the baseline build.
      .replace("@VARIANT@", variant ? `Conflicts:      ${PACKAGE_NAME}\nProvides:       ${PACKAGE_NAME} = ${job.version}-1` : ""),
    "%changelog",
    readFileSync(`${job.generated}/changelog.rpm`, "utf8"),
  ].join("\n");
  writeFileSync(`${top}/${job.name}.spec`, spec);
  const defines = [
    `_topdir ${top}`,
    `stage ${stage}`,
    `pkg_name ${job.name}`,
    `pkg_version ${job.version}`,
    `packager ${MAINTAINER}`,
    `_binary_payload w${job.xzLevel}.xzdio`,
    // Reproducible: no host name, no build time, file times clamped to SOURCE_DATE_EPOCH.
    "_buildhost reproducible",
    "use_source_date_epoch_as_buildtime 1",
    "clamp_mtime_to_source_date_epoch 1",
  ];
  const args = ["-bb", "--quiet", "--target", `${job.target.rpmArch}-linux`, ...defines.flatMap((d) => ["--define", d])];
  await $`rpmbuild ${args} ${top}/${job.name}.spec`.quiet();
  const file = `${job.out}/${job.name}-${job.version}-1.${job.target.rpmArch}.rpm`;
  cpSync(`${top}/RPMS/${job.target.rpmArch}/${job.name}-${job.version}-1.${job.target.rpmArch}.rpm`, file);
  rmSync(stage, { recursive: true, force: true });
  rmSync(top, { recursive: true, force: true });
  return file;
}
