/**
 * Keeps the benchmark scripts from rotting: the quick mode of the cheapest scenario (8, the
 * thundering herd) against the compiled agent, its report lines, and the argument checks.
 */
import { expect, test } from "bun:test";
import { readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { parseBenchArgs } from "../../scripts/bench/index";
import { medianOf, quantile } from "../../scripts/bench/stats";

const root = new URL("../..", import.meta.url).pathname;
const BENCH = `${root}scripts/bench/index.ts`;

async function bench(args: string[], timeoutMs: number): Promise<{ exit: number; stdout: string; stderr: string }> {
  const child = Bun.spawn([process.execPath, BENCH, ...args], { cwd: root, stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  const timer = setTimeout(() => child.kill("SIGTERM"), timeoutMs); // SIGTERM: the bench cleans up its children
  const [stdout, stderr, exit] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]);
  clearTimeout(timer);
  return { exit, stdout, stderr };
}

const benchDirs = () => readdirSync(tmpdir()).filter((name) => name.startsWith("agentd-bench-")).sort();

test("scenario 8 in --quick mode: 1,000 calls, one connection per server, every target met", async () => {
  const before = benchDirs();
  const run = await bench(["--quick", "--only", "8"], 15_000);
  expect(benchDirs().filter((name) => !before.includes(name))).toEqual([]); // its temp dir is gone
  expect(run.stderr).toBe("");
  const json = run.stdout.split("\n").filter((line) => line.startsWith("{")).map((line) => JSON.parse(line));
  const rows = json.filter((line) => line.scenario === 8);
  expect(rows).toHaveLength(2);
  expect(rows.map((row) => row.figures.ok)).toEqual([1000, 1000]);
  expect(rows[0].figures.preferredAccepted).toBe(1);
  expect(rows[1].figures.backupAccepted).toBe(1);
  const targets = json.find((line) => line.targets)?.targets as { name: string; met: boolean }[];
  expect(targets.length).toBe(4);
  expect(targets.filter((t) => !t.met)).toEqual([]);
  expect(run.stdout).toContain("| 8 | 1,000 calls after the connection was reset");
  expect(run.exit).toBe(0);
}, 20_000);

test("bad arguments: exit 2 with the usage", async () => {
  const run = await bench(["--only", "9"], 5000);
  expect(run.exit).toBe(2);
  expect(run.stderr).toContain('--only: no scenario "9"');
  expect(() => parseBenchArgs(["--rounds", "0"])).toThrow("--rounds needs a positive integer");
  expect(() => parseBenchArgs(["--frobnicate"])).toThrow();
  const parsed = parseBenchArgs(["--quick", "--only", "6,8", "--soak-seconds", "5"]);
  expect(parsed).not.toBe("help");
  if (parsed === "help") return;
  expect([...parsed.scenarios]).toEqual([6, 8]);
  expect(parsed.options).toMatchObject({ quick: true, rounds: 1, soakMs: 5000 });
});

test("statistics: nearest-rank quantiles and per-field medians", () => {
  const sorted = Float64Array.from({ length: 1000 }, (_, i) => i + 1);
  expect([quantile(sorted, 0.5), quantile(sorted, 0.99), quantile(sorted, 0.999), quantile(sorted, 1)]).toEqual([500, 990, 999, 1000]);
  expect(quantile(new Float64Array(0), 0.5)).toBeNaN();
  expect(medianOf([{ a: 3, b: 10 }, { a: 1, b: 30 }, { a: 2, b: 20 }])).toEqual({ a: 2, b: 20 });
});
