/**
 * `npm run package`: a .deb (dpkg-deb) and an .rpm (rpmbuild) for every release target, into
 * dist/packages/. The files come from one table (scripts/packaging/files.ts); copyright,
 * changelogs, man pages and completion are generated first (scripts/packaging/generate.ts).
 *
 *   --host-only   package just the host build (dist/tacacsrs-agentd), for tests
 *   --out DIR     write the packages to DIR instead of dist/packages
 *   --fast        xz level 0 instead of 6 (tests: the same files and checks, a sixth of the compression time)
 *
 * Reproducible: every time stamp is SOURCE_DATE_EPOCH (default: the last commit's time), so two
 * builds of one commit are byte-identical.
 */
import { $ } from "bun";
import { rmSync } from "node:fs";
import { resolve } from "node:path";
import { buildDeb } from "./packaging/deb";
import { generateDocuments } from "./packaging/generate";
import { buildRpm } from "./packaging/rpm";
import { packageVariants } from "./packaging/variants";

const root = new URL("..", import.meta.url).pathname;
const argv = process.argv.slice(2);
const outIndex = argv.indexOf("--out");
const out = outIndex >= 0 && argv[outIndex + 1] ? resolve(argv[outIndex + 1]!) : `${root}dist/packages`;
const hostOnly = argv.includes("--host-only");
const xzLevel = argv.includes("--fast") ? 0 : 6;
const version = (await Bun.file(`${root}package.json`).json()).version as string;

process.env.SOURCE_DATE_EPOCH ||= (await $`git -C ${root} log -1 --format=%ct`.quiet().text()).trim();
const epoch = Number(process.env.SOURCE_DATE_EPOCH);
if (!Number.isSafeInteger(epoch) || epoch <= 0) throw new Error(`SOURCE_DATE_EPOCH must be seconds since 1970, got "${process.env.SOURCE_DATE_EPOCH}"`);

await $`${process.execPath} ${root}scripts/build.ts ${hostOnly ? [] : ["--all-targets"]}`.cwd(root);
const generated = `${out}/generated`;
rmSync(generated, { recursive: true, force: true });
generateDocuments(root, generated, version, epoch);

for (const variant of packageVariants(`${root}dist`, hostOnly)) {
  if (variant.skip) {
    console.log(`not packaged: ${variant.target.name} (${variant.skip})`);
    continue;
  }
  const job = { root, out, version, epoch, xzLevel, generated, ...variant };
  console.log(`packaged ${await buildDeb(job)}`);
  console.log(`packaged ${await buildRpm(job)}`);
}
rmSync(generated, { recursive: true, force: true });
