/**
 * `npm test`: builds the executables (end-to-end tests run them), runs `bun test` with a JUnit
 * report, and ends with the one summary line CI reads: `N passed, N failed`.
 * Extra arguments go to `bun test` (e.g. a path filter).
 */
import { $ } from "bun";
import { mkdirSync } from "node:fs";

const root = new URL("..", import.meta.url).pathname;
const report = `${root}.test-output/junit.xml`;
mkdirSync(`${root}.test-output`, { recursive: true });

await $`${process.execPath} ${root}scripts/build.ts`.cwd(root);
const run = Bun.spawnSync(
  [process.execPath, "test", "--reporter=junit", `--reporter-outfile=${report}`, ...process.argv.slice(2)],
  { cwd: root, stdio: ["inherit", "inherit", "inherit"], env: process.env },
);

const xml = await Bun.file(report).text().catch(() => "");
const totals = /<testsuites[^>]*\btests="(\d+)"[^>]*\bfailures="(\d+)"[^>]*\bskipped="(\d+)"/.exec(xml);
const tests = Number(totals?.[1] ?? 0);
const failures = Number(totals?.[2] ?? 0);
const skipped = Number(totals?.[3] ?? 0);
// Errors outside any test (a file that fails to load) make bun exit non-zero without a failed case.
const failed = failures + (run.exitCode !== 0 && failures === 0 ? 1 : 0);
console.log(`${tests - failures - skipped} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ""}`);
process.exit(run.exitCode === 0 && failed === 0 ? 0 : 1);
