/**
 * `npm run package`: a .deb (dpkg-deb) and an .rpm (rpmbuild) for every release target, into
 * dist/packages/. `--host-only` packages just the host build (dist/tacacsrs-agentd), for tests.
 */
import { $ } from "bun";
import { chmodSync, cpSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { installedSizeKiB, stageEntries, type StagedPath } from "./packaging/stage";
import { RELEASE_TARGETS, type ReleaseTarget } from "./runtimes";

const root = new URL("..", import.meta.url).pathname;
const out = `${root}dist/packages`;
const version = (await Bun.file(`${root}package.json`).json()).version as string;
const hostOnly = process.argv.includes("--host-only");

const hostTarget: ReleaseTarget = RELEASE_TARGETS[0]!;
const builds: { target: ReleaseTarget; binaryDir: string; suffix: string }[] = hostOnly
  ? [{ target: hostTarget, binaryDir: `${root}dist`, suffix: "" }]
  : RELEASE_TARGETS.map((target) => ({
      target,
      binaryDir: `${root}dist/${target.name}`,
      suffix: target.name.endsWith("-baseline") ? "-baseline" : "",
    }));

await $`${process.execPath} ${root}scripts/build.ts ${hostOnly ? [] : ["--all-targets"]}`.cwd(root);
mkdirSync(out, { recursive: true });

async function buildDeb(target: ReleaseTarget, binaryDir: string, suffix: string): Promise<string> {
  const stage = `${out}/stage-deb-${target.name}`;
  rmSync(stage, { recursive: true, force: true });
  const staged = stageEntries(root, stage, "deb", { bin: binaryDir });
  mkdirSync(`${stage}/DEBIAN`);
  writeFileSync(
    `${stage}/DEBIAN/control`,
    [
      "Package: tacacsrs-agentd",
      `Version: ${version}`,
      `Architecture: ${target.debArch}`,
      "Maintainer: tacacsrs developers <maintainers@tacacsrs.invalid>",
      "Depends: libc6 (>= 2.27), adduser",
      "Section: net",
      "Priority: optional",
      `Installed-Size: ${installedSizeKiB(stage)}`,
      "Description: TACACS+ agent with gRPC API and local TACACS+ proxy",
      " tacacsrs-agentd keeps persistent TACACS+ connections (RFC 8907, TLS 1.3 per RFC 9887)",
      " to an ordered list of upstream servers, with failover, and serves local clients through",
      " a gRPC API on a Unix socket (the tacon client) and an optional packet-transparent proxy.",
      "",
    ].join("\n"),
  );
  const conffiles = staged.filter((item) => item.config).map((item) => `${item.path}\n`);
  writeFileSync(`${stage}/DEBIAN/conffiles`, conffiles.join(""));
  for (const script of ["postinst", "prerm", "postrm"]) {
    cpSync(`${root}packaging/deb/${script}`, `${stage}/DEBIAN/${script}`);
    chmodSync(`${stage}/DEBIAN/${script}`, 0o755);
  }
  const file = `${out}/tacacsrs-agentd_${version}_${target.debArch}${suffix}.deb`;
  await $`dpkg-deb --root-owner-group -Zgzip -z6 --build ${stage} ${file}`.quiet();
  rmSync(stage, { recursive: true, force: true });
  return file;
}

/** The rpm %files list (`%files -f`): every staged path with its mode, and the directories the package owns. */
function rpmFileList(staged: StagedPath[]): string {
  const owned = new Set(["/usr/share/doc/tacacsrs-agentd", "/usr/share/licenses/tacacsrs-agentd"]);
  const lines = staged.map((item) => {
    if (item.kind === "link") return item.path;
    const mode = item.mode.toString(8).padStart(4, "0");
    const attr = `%attr(${mode},root,${item.group})`;
    if (item.kind === "directory") return `%dir ${attr} ${item.path}`;
    const marker = item.config ? "%config(noreplace) " : item.path.startsWith("/usr/share/licenses/") ? "%license " : item.path.startsWith("/usr/share/doc/") ? "%doc " : "";
    return `${marker}${attr} ${item.path}`;
  });
  for (const item of staged) {
    for (let dir = item.path.replace(/\/[^/]+$/, ""); dir.startsWith("/usr/share/doc/tacacsrs-agentd/"); dir = dir.replace(/\/[^/]+$/, "")) owned.add(dir);
  }
  return [...[...owned].toSorted().map((dir) => `%dir ${dir}`), ...lines, ""].join("\n");
}

async function buildRpm(target: ReleaseTarget, binaryDir: string, suffix: string): Promise<string> {
  const stage = `${out}/stage-rpm-${target.name}`;
  const top = `${out}/rpmbuild-${target.name}`;
  rmSync(stage, { recursive: true, force: true });
  rmSync(top, { recursive: true, force: true });
  const staged = stageEntries(root, stage, "rpm", { bin: binaryDir });
  mkdirSync(top, { recursive: true });
  writeFileSync(`${top}/files.list`, rpmFileList(staged));
  const defines = [`_topdir ${top}`, `stage ${stage}`, `pkg_version ${version}`, "_binary_payload w6.gzdio"];
  const args = ["-bb", "--quiet", "--target", `${target.rpmArch}-linux`, ...defines.flatMap((d) => ["--define", d])];
  await $`rpmbuild ${args} ${root}packaging/rpm/tacacsrs-agentd.spec`.quiet();
  const built = `${top}/RPMS/${target.rpmArch}/tacacsrs-agentd-${version}-1.${target.rpmArch}.rpm`;
  const file = `${out}/tacacsrs-agentd-${version}-1.${target.rpmArch}${suffix}.rpm`;
  cpSync(built, file);
  rmSync(stage, { recursive: true, force: true });
  rmSync(top, { recursive: true, force: true });
  return file;
}

for (const { target, binaryDir, suffix } of builds) {
  console.log(`packaged ${await buildDeb(target, binaryDir, suffix)}`);
  console.log(`packaged ${await buildRpm(target, binaryDir, suffix)}`);
}
