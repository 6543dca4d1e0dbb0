/**
 * What tacacs-session costs (issue 18): 500 `/bin/true` execs in a shell loop, unsupervised and
 * supervised, side by side in one run, alternated `rounds` times (medians), against the compiled
 * agent and one test server whose policy permits everything:
 *   - cached: the server's answer reused (the default), with and without accounting;
 *   - uncached: --cache-seconds 0, every exec one Authorization round trip through the agent;
 *   - the agent's share: the same Authorization from this process over one connection, back to
 *     back and spaced like the execs of the loop;
 *   - session start: `tacacs-session -c :` against `sh -c :` (and the baseline's), 15 runs interleaved;
 *     the supervisor's peak RSS.
 *   bun scripts/bench/session.ts [execs=500] [rounds=3] [baseline=PATH]
 * With a baseline (another build of dist/tacacsrs-agentd), its per-exec variants and session starts
 * run in the same rounds, alternated with this build's, and the medians are compared (an A/B on a
 * noisy machine).
 */
import { copyFileSync, mkdirSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ApiClient, DirectApiClient } from "../../src/api/client";
import { LOOPBACK, SHARED_SECRET } from "./context";
import { AgentProcess, cleanupAll, ServerProcess, workDir } from "./peers";
import { cpuMs, rssSampler } from "./proc";
import { median, round } from "./stats";

const root = new URL("../..", import.meta.url).pathname;
const USER = "bench-session";
const [execsText = "500", roundsText = "3", baseline] = process.argv.slice(2);
const execs = Number(execsText);
const rounds = Number(roundsText);
const START_RUNS = 15;
/** Between two spaced agent calls: about an exec of the loop. */
const SPACING_MS = 2;
const loop = `i=0; while [ $i -lt ${execs} ]; do /bin/true; i=$((i+1)); done`;

/** The process's own CPU time (not its children's), as last seen before it ended (10 ms resolution). */
function cpuSampler(pid: number, everyMs: number): { stop(): number } {
  let last = 0;
  const sample = () => {
    try {
      last = cpuMs(pid);
    } catch {
      // the process ended: keep what was seen
    }
  };
  sample();
  const timer = setInterval(sample, everyMs);
  return {
    stop() {
      clearInterval(timer);
      return last;
    },
  };
}

/** Wall time of one command in ms, the peak RSS (MB) and CPU time (ms) of the process itself. */
async function timed(argv: string[]): Promise<{ ms: number; rssMb: number; cpuMs: number }> {
  const started = performance.now();
  const child = Bun.spawn(argv, { stdin: "ignore", stdout: "ignore", stderr: "pipe", env: { PATH: "/usr/bin:/bin" } });
  const cpu = cpuSampler(child.pid, 10);
  // A very short run may be over (a zombie without VmRSS) before the first sample.
  let sampler: { stop(): number };
  try {
    sampler = rssSampler(child.pid, 20);
  } catch {
    sampler = { stop: () => 0 };
  }
  const [code, stderr] = await Promise.all([child.exited, new Response(child.stderr).text()]);
  const ms = performance.now() - started;
  const rssMb = sampler.stop();
  if (code !== 0) throw new Error(`${argv.join(" ")} exited ${code}: ${stderr}`);
  return { ms, rssMb, cpuMs: cpu.stop() };
}

/** A private copy of `binary` invoked as tacacs-session (a rebuild during the run cannot swap it). */
function sessionCopy(binary: string, name: string): string {
  const dir = join(workDir(), name);
  mkdirSync(dir);
  copyFileSync(binary, join(dir, "tacacsrs-agentd"));
  symlinkSync("tacacsrs-agentd", join(dir, "tacacs-session"));
  return join(dir, "tacacs-session");
}

try {
  const SESSION = sessionCopy(`${root}dist/tacacsrs-agentd`, "build");
  const BASELINE = baseline === undefined ? undefined : sessionCopy(baseline, "baseline");
  const policy = join(workDir(), "policy.json");
  writeFileSync(policy, JSON.stringify({ users: { [USER]: { password: "unused", privLvl: 15, commands: ["*"], services: { shell: [] } } } }));
  const server = await ServerProcess.start(["--key", SHARED_SECRET, "--policy", policy]);
  const agent = await AgentProcess.start(["--server-addr", `${LOOPBACK}:${server.port}`, "--shared-secret", SHARED_SECRET]);
  const config = join(workDir(), "session.conf");
  writeFileSync(config, `--service-endpoint ${agent.api.kind === "unix" ? agent.api.path : ""}\n--user ${USER}\n--shell /bin/sh\n`);
  const perExec = (binary: string, suffix: string): Record<string, string[]> => {
    const session = (...flags: string[]) => [binary, "--config", config, ...flags, "-c", loop];
    return {
      [`cached, no accounting${suffix}`]: session("--no-accounting"),
      [`cached + accounting${suffix}`]: session(),
      [`uncached, no accounting${suffix}`]: session("--no-accounting", "--cache-seconds", "0"),
    };
  };
  const variants: Record<string, string[]> = {
    unsupervised: ["/bin/sh", "-c", loop],
    ...perExec(SESSION, ""),
    ...(BASELINE === undefined ? {} : perExec(BASELINE, " (baseline)")),
  };
  const results: Record<string, number[]> = Object.fromEntries(Object.keys(variants).map((name) => [name, []]));
  const supervisorCpu: Record<string, number[]> = Object.fromEntries(Object.keys(variants).map((name) => [name, []]));
  let supervisorRss = 0;
  for (let r = 0; r < rounds; r++) {
    // Alternated: odd rounds run the variants in reverse order, so neither build always goes first.
    const order = Object.entries(variants);
    for (const [name, argv] of r % 2 === 0 ? order : order.reverse()) {
      const { ms, rssMb, cpuMs } = await timed(argv);
      results[name]!.push(ms);
      supervisorCpu[name]!.push(cpuMs);
      if (argv[0] !== "/bin/sh") supervisorRss = Math.max(supervisorRss, rssMb);
      console.log(`round ${r} ${name}: ${round(ms)} ms for ${execs} execs, supervisor CPU ${cpuMs} ms`);
    }
  }
  const base = median(results.unsupervised!);
  console.log(`\n${execs} × /bin/true, median of ${rounds} (wall time; supervised: the supervisor's own CPU time per exec):`);
  for (const [name, times] of Object.entries(results)) {
    const ms = median(times);
    console.log(`  ${name.padEnd(35)} ${round(ms)} ms  ${round((ms / execs) * 1000)} µs/exec  ${name === "unsupervised" ? "" : `+${round(((ms - base) / execs) * 1000)} µs/exec, CPU ${round((median(supervisorCpu[name]!) / execs) * 1000)} µs/exec`}`);
  }

  // The agent's share of an uncached decision: the same Authorization, sequential, over one
  // connection, with the session's client (raw HTTP/2) and with node:http2's (ApiClient).
  const request = {
    user: USER,
    authenticationContext: "AUTHORIZATION_AUTHENTICATION_CONTEXT_TACACS_PAP",
    args: [{ name: "service", value: "shell", mandatory: true }, { name: "cmd", value: "/usr/bin/true", mandatory: true }],
  };
  for (const [name, client] of [["raw HTTP/2", new DirectApiClient(agent.api)], ["node:http2", new ApiClient(agent.api)]] as const) {
    for (let i = 0; i < 50; i++) await client.call("Authorization", request, 5000);
    const started = performance.now();
    for (let i = 0; i < execs; i++) await client.call("Authorization", request, 5000);
    console.log(`  agent round trip (Authorization from this process, ${name}): ${round(((performance.now() - started) / execs) * 1000)} µs`);
    client.close();
  }
  // Back to back, every process stays hot; a session's calls come one per exec, each after the
  // agent, the server and the client went idle: the same call spaced as the execs of the loop.
  const client = new DirectApiClient(agent.api);
  const spaced: number[] = [];
  for (let i = 0; i < Math.min(execs, 300); i++) {
    await Bun.sleep(SPACING_MS);
    const started = performance.now();
    await client.call("Authorization", request, 5000);
    spaced.push((performance.now() - started) * 1000);
  }
  client.close();
  console.log(`  agent round trip, calls ${SPACING_MS} ms apart (raw HTTP/2): median ${round(median(spaced))} µs`);

  // Session start, interleaved with the baseline's when there is one (a start-up change is a few ms on a noisy machine).
  const starts = { plain: [] as number[], supervised: [] as number[], baseline: [] as number[] };
  for (let r = 0; r < START_RUNS; r++) {
    starts.plain.push((await timed(["/bin/sh", "-c", ":"])).ms);
    starts.supervised.push((await timed([SESSION, "--config", config, "-c", ":"])).ms);
    if (BASELINE !== undefined) starts.baseline.push((await timed([BASELINE, "--config", config, "-c", ":"])).ms);
  }
  const baselineStart = BASELINE === undefined ? "" : `, baseline ${round(median(starts.baseline), 1)} ms`;
  console.log(`  session start: sh -c : ${round(median(starts.plain), 1)} ms, tacacs-session -c : ${round(median(starts.supervised), 1)} ms${baselineStart} (median of ${START_RUNS})`);
  console.log(`  supervisor peak RSS: ${round(supervisorRss, 1)} MB (its launcher is replaced by the shell)`);
} finally {
  await cleanupAll();
}
