/**
 * Builds the single-file executable dist/tacacsrs-agentd and the dist/tacon link to it.
 * The binary dispatches on the name it was invoked by (see src/main.ts).
 */
import { $ } from "bun";
import { mkdirSync, rmSync, symlinkSync } from "node:fs";

const root = new URL("..", import.meta.url).pathname;
const dist = `${root}dist`;
mkdirSync(dist, { recursive: true });

const version = (await Bun.file(`${root}package.json`).json()).version as string;
const commit = (await $`git -C ${root} rev-parse --short HEAD`.nothrow().quiet().text()).trim() || "unknown";

const result = await Bun.build({
  entrypoints: [`${root}src/main.ts`],
  compile: { outfile: `${dist}/tacacsrs-agentd` },
  minify: true,
  bytecode: true,
  define: {
    BUILD_VERSION: JSON.stringify(version),
    BUILD_COMMIT: JSON.stringify(commit),
  },
});
if (!result.success) {
  for (const log of result.logs) console.error(log);
  process.exit(1);
}
rmSync(`${dist}/tacon`, { force: true });
symlinkSync("tacacsrs-agentd", `${dist}/tacon`);
console.log(`built dist/tacacsrs-agentd ${version} (${commit}) and dist/tacon`);
