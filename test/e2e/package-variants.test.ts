/**
 * Which packages a build makes, and the package of a baseline build that differs from the x64
 * one (with Bun 1.4.5 they are byte-identical, so the release build never makes it): built here
 * from small stand-in executables, so it takes a second, not a real build.
 */
import { $ } from "bun";
import { afterAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildDeb } from "../../scripts/packaging/deb";
import { generateDocuments } from "../../scripts/packaging/generate";
import { buildRpm } from "../../scripts/packaging/rpm";
import { packageVariants } from "../../scripts/packaging/variants";
import { havePeer } from "../support/peer";

const root = new URL("../..", import.meta.url).pathname;
const version = JSON.parse(readFileSync(`${root}package.json`, "utf8")).version as string;
const work = mkdtempSync(join(tmpdir(), "tacacsrs-variants-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

function fakeDist(baselineBytes: string): string {
  const dist = mkdtempSync(join(work, "dist-"));
  for (const [target, bytes] of [["linux-x64", "x64"], ["linux-x64-baseline", baselineBytes], ["linux-arm64", "arm64"]]) {
    mkdirSync(join(dist, target!));
    writeFileSync(join(dist, target!, "tacacsrs-agentd"), `#!/bin/sh\n# ${bytes}\n`, { mode: 0o755 });
  }
  return dist;
}

describe("package variants", () => {
  test("a baseline build identical to the x64 one is not packaged; a different one is tacacsrs-agentd-baseline", () => {
    const same = packageVariants(fakeDist("x64"), false);
    expect(same.map((v) => [v.target.name, v.name, v.skip !== undefined])).toEqual([
      ["linux-x64", "tacacsrs-agentd", false],
      ["linux-x64-baseline", "tacacsrs-agentd-baseline", true],
      ["linux-arm64", "tacacsrs-agentd", false],
    ]);
    expect(same[1]!.skip).toContain("byte-identical");
    expect(packageVariants(fakeDist("baseline"), false)[1]!.skip).toBeUndefined();
  });

  test.skipIf(!["dpkg-deb", "rpmbuild", "rpm"].every(havePeer))("the baseline package conflicts with, replaces and provides tacacsrs-agentd, under its own name", async () => {
    const variant = packageVariants(fakeDist("baseline"), false)[1]!;
    const generated = join(work, "generated");
    generateDocuments(root, generated, version, 1_764_720_000);
    const job = { root, out: work, version, epoch: 1_764_720_000, xzLevel: 0, generated, ...variant };
    const deb = await buildDeb(job);
    const rpm = await buildRpm(job);
    const control = await $`dpkg-deb --field ${deb}`.text();
    for (const line of ["Package: tacacsrs-agentd-baseline", "Source: tacacsrs-agentd", "Conflicts: tacacsrs-agentd", "Replaces: tacacsrs-agentd", `Provides: tacacsrs-agentd (= ${version})`, "Architecture: amd64"]) {
      expect(control).toContain(`${line}\n`);
    }
    const contents = await $`dpkg-deb --contents ${deb}`.text();
    expect(contents).toContain("./usr/share/doc/tacacsrs-agentd-baseline/copyright\n");
    expect(contents).toContain("./usr/share/lintian/overrides/tacacsrs-agentd-baseline\n");
    expect(await $`rpm -qp --queryformat '%{NAME} %{ARCH}' ${rpm}`.text()).toBe("tacacsrs-agentd-baseline x86_64");
    expect(await $`rpm -qp --conflicts ${rpm}`.text()).toBe("tacacsrs-agentd\n");
    expect(await $`rpm -qp --provides ${rpm}`.text()).toContain(`tacacsrs-agentd = ${version}-1\n`);
    expect(await $`rpm -qp --obsoletes ${rpm}`.text()).toBe(""); // else dnf would replace tacacsrs-agentd everywhere
    expect(await $`rpm -qpl ${rpm}`.text()).toContain("/usr/share/licenses/tacacsrs-agentd-baseline/copyright\n");
  }, 60_000);
});
