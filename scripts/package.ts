/**
 * `npm run package`: a .deb (dpkg-deb) and an .rpm (rpmbuild) for every release target, into
 * dist/packages/. `--host-only` packages just the host build (dist/tacacsrs-agentd), for tests.
 */
import { $ } from "bun";
import { chmodSync, cpSync, existsSync, mkdirSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
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

/** The files every package installs, below `stage`, with the distribution's paths. */
function stageCommon(stage: string, binaryDir: string, unitDir: string, envPath: string): void {
  mkdirSync(`${stage}/usr/bin`, { recursive: true });
  cpSync(`${binaryDir}/tacacsrs-agentd`, `${stage}/usr/bin/tacacsrs-agentd`);
  chmodSync(`${stage}/usr/bin/tacacsrs-agentd`, 0o755);
  symlinkSync("tacacsrs-agentd", `${stage}/usr/bin/tacon`);
  mkdirSync(`${stage}${unitDir}`, { recursive: true });
  cpSync(`${root}packaging/systemd/tacacsrs-agentd.service`, `${stage}${unitDir}/tacacsrs-agentd.service`);
  mkdirSync(`${stage}${envPath.replace(/\/[^/]+$/, "")}`, { recursive: true });
  cpSync(`${root}packaging/env/tacacsrs-agentd`, `${stage}${envPath}`);
  chmodSync(`${stage}${envPath}`, 0o640);
  const doc = `${stage}/usr/share/doc/tacacsrs-agentd`;
  mkdirSync(doc, { recursive: true });
  cpSync(`${root}README.md`, `${doc}/README.md`);
  if (existsSync(`${root}packaging/examples`)) cpSync(`${root}packaging/examples`, `${doc}/examples`, { recursive: true });
}

function installedSizeKiB(dir: string): number {
  let bytes = 0;
  for (const entry of readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (entry.isFile()) bytes += statSync(`${entry.parentPath}/${entry.name}`).size;
  }
  return Math.ceil(bytes / 1024);
}

async function buildDeb(target: ReleaseTarget, binaryDir: string, suffix: string): Promise<string> {
  const stage = `${out}/stage-deb-${target.name}`;
  rmSync(stage, { recursive: true, force: true });
  stageCommon(stage, binaryDir, "/lib/systemd/system", "/etc/default/tacacsrs-agentd");
  cpSync(`${root}LICENSE`, `${stage}/usr/share/doc/tacacsrs-agentd/copyright`);
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
  writeFileSync(`${stage}/DEBIAN/conffiles`, "/etc/default/tacacsrs-agentd\n");
  for (const script of ["postinst", "prerm", "postrm"]) {
    cpSync(`${root}packaging/deb/${script}`, `${stage}/DEBIAN/${script}`);
    chmodSync(`${stage}/DEBIAN/${script}`, 0o755);
  }
  const file = `${out}/tacacsrs-agentd_${version}_${target.debArch}${suffix}.deb`;
  await $`dpkg-deb --root-owner-group -Zgzip -z6 --build ${stage} ${file}`.quiet();
  rmSync(stage, { recursive: true, force: true });
  return file;
}

async function buildRpm(target: ReleaseTarget, binaryDir: string, suffix: string): Promise<string> {
  const stage = `${out}/stage-rpm-${target.name}`;
  const top = `${out}/rpmbuild-${target.name}`;
  rmSync(stage, { recursive: true, force: true });
  rmSync(top, { recursive: true, force: true });
  stageCommon(stage, binaryDir, "/usr/lib/systemd/system", "/etc/sysconfig/tacacsrs-agentd");
  mkdirSync(`${stage}/usr/share/licenses/tacacsrs-agentd`, { recursive: true });
  cpSync(`${root}LICENSE`, `${stage}/usr/share/licenses/tacacsrs-agentd/LICENSE`);
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
