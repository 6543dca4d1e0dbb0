/**
 * `npm run fuzz`: the seeded fuzz tests of the suite (codec decoders, proxy listener, gRPC shim,
 * YANG loader), run again and again with fresh seeds and more cases until the time is up.
 * Every run is one `bun test` process with FUZZ_SEED / FUZZ_CASES (PROXY_FUZZ_SEED for the proxy);
 * a failure prints the command that replays it. Exit 1 when any seed failed.
 *
 *   bun scripts/fuzz.ts [--minutes 10] [--seed N] [--only codec,proxy,grpc,yang]
 */
import { parseArgs } from "node:util";

interface Target {
  name: string;
  file: string;
  /** bun test -t filter, when the file holds more than the fuzz test. */
  filter?: string;
  /** Cases per run in the long mode (the suite's defaults are smaller). */
  cases: number;
}

const TARGETS: readonly Target[] = [
  { name: "codec", file: "src/protocol/fuzz.test.ts", cases: 30_000 },
  { name: "proxy", file: "test/proxy/fuzz.test.ts", cases: 1000 },
  { name: "grpc", file: "test/reliability/grpc-fuzz.test.ts", filter: "fuzz:", cases: 1500 },
  { name: "yang", file: "src/config/yang/document.test.ts", filter: "seeded mutations", cases: 20_000 },
];

const { values } = parseArgs({
  options: { minutes: { type: "string", default: "10" }, seed: { type: "string" }, only: { type: "string" } },
});
const minutes = Number(values.minutes);
if (!(minutes > 0)) throw new Error("--minutes must be a positive number");
const only = values.only?.split(",");
const targets = TARGETS.filter((t) => only === undefined || only.includes(t.name));
if (targets.length === 0) throw new Error(`--only: expected some of ${TARGETS.map((t) => t.name).join(",")}`);

const root = new URL("..", import.meta.url).pathname;
/** Each run's seed comes from this sequence, so a whole fuzz session replays from --seed. */
let nextSeed = values.seed !== undefined ? Number(values.seed) >>> 0 : (Math.random() * 2 ** 32) >>> 0;
const startSeed = nextSeed;
const until = Date.now() + minutes * 60_000;
const failures: string[] = [];
const runs: Record<string, number> = {};

console.log(`fuzz: ${targets.map((t) => t.name).join(", ")} for ${minutes} min, seeds from ${startSeed}`);
while (Date.now() < until) {
  for (const target of targets) {
    if (Date.now() >= until) break;
    const seed = nextSeed;
    nextSeed = (nextSeed + 0x9e3779b9) >>> 0;
    const env = { FUZZ_SEED: String(seed), PROXY_FUZZ_SEED: String(seed), FUZZ_CASES: String(target.cases) };
    const args = ["test", target.file, ...(target.filter ? ["-t", target.filter] : []), "--timeout", "600000"];
    const child = Bun.spawn([process.execPath, ...args], { cwd: root, env: { ...process.env, ...env }, stdout: "pipe", stderr: "pipe" });
    const [stdout, stderr, code] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]);
    runs[target.name] = (runs[target.name] ?? 0) + 1;
    if (code !== 0) {
      const replay = `${Object.entries(env).map(([k, v]) => `${k}=${v}`).join(" ")} bun ${args.join(" ")}`;
      failures.push(`${target.name} seed ${seed}: ${replay}`);
      console.log(`FAIL ${target.name} seed ${seed}\n${(stdout + stderr).split("\n").filter((l) => /error|fail|expect/i.test(l)).slice(0, 20).join("\n")}\n  replay: ${replay}`);
    } else {
      console.log(`ok   ${target.name} seed ${seed}`);
    }
  }
}
console.log(`fuzz: runs ${JSON.stringify(runs)}, ${failures.length} failing seed(s)`);
for (const failure of failures) console.log(`  ${failure}`);
process.exit(failures.length > 0 ? 1 : 0);
