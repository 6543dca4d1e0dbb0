/**
 * Builds the single-file executable dist/tacacsrs-agentd and the dist/tacon and
 * dist/tacacsrs-audit-plugin links to it; the binary
 * dispatches on the name it was invoked by (src/main.ts).
 * `--all-targets` also cross-compiles dist/<target>/ for every release target, offline.
 */
import { $ } from "bun";
import { mkdirSync, rmSync, symlinkSync } from "node:fs";
import { RELEASE_TARGETS, runtimeFor } from "./runtimes";

const root = new URL("..", import.meta.url).pathname;
const version = (await Bun.file(`${root}package.json`).json()).version as string;
const commit = (await $`git -C ${root} rev-parse --short HEAD`.nothrow().quiet().text()).trim() || "unknown";

async function compile(outDir: string, cross?: { bunTarget: string; executablePath: string }): Promise<void> {
  mkdirSync(outDir, { recursive: true });
  const result = await Bun.build({
    // The session supervisor's listener runs in a Worker: its module must be in the executable.
    entrypoints: [`${root}src/main.ts`, `${root}src/session/listener-worker.ts`],
    compile: {
      outfile: `${outDir}/tacacsrs-agentd`,
      // A daemon must not pick up .env or bunfig.toml from whatever directory it starts in.
      autoloadDotenv: false,
      autoloadBunfig: false,
      ...(cross ? { target: cross.bunTarget as never, executablePath: cross.executablePath } : {}),
    },
    minify: true,
    // Each personality's modules are their own chunks in the executable, loaded by main.ts's
    // import(): a start loads (and deserialises the bytecode of) only what its mode runs.
    splitting: true,
    bytecode: true,
    // Bytecode defaults to CommonJS, where import.meta (consola reads import.meta.env) is invalid.
    format: "esm",
    define: { BUILD_VERSION: JSON.stringify(version), BUILD_COMMIT: JSON.stringify(commit) },
  });
  if (!result.success) {
    for (const log of result.logs) console.error(log);
    process.exit(1);
  }
  rmSync(`${outDir}/tacon`, { force: true });
  symlinkSync("tacacsrs-agentd", `${outDir}/tacon`);
  rmSync(`${outDir}/tacacsrs-audit-plugin`, { force: true });
  symlinkSync("tacacsrs-agentd", `${outDir}/tacacsrs-audit-plugin`);
  rmSync(`${outDir}/tacacs-session`, { force: true });
  symlinkSync("tacacsrs-agentd", `${outDir}/tacacs-session`);
}

await compile(`${root}dist`);
console.log(`built dist/tacacsrs-agentd ${version} (${commit}) and dist/tacon`);

if (process.argv.includes("--all-targets")) {
  for (const target of RELEASE_TARGETS) {
    const executablePath = await runtimeFor(target, root);
    await compile(`${root}dist/${target.name}`, { bunTarget: target.bunTarget, executablePath });
    console.log(`built dist/${target.name}/tacacsrs-agentd`);
  }
}
