/**
 * What `tacon pam` adds to each PAM phase (issue 17: at most 50 ms at p50 with a local upstream):
 * the compiled tacon run as pam_exec runs it (PAM_* environment, the password on stdin for auth),
 * against the compiled agent and the test TACACS+ server on loopback. The phases are interleaved
 * round by round, with two floors in the same rounds: the binary's bare start (`--version`) and
 * `tacon pam` failing on a bad option (start, option parsing and the log line, no agent call).
 * As root with pamtester installed, `--pamtester` adds each phase through Linux-PAM's pam_exec
 * (pamtester's own start included), with a PAM file /etc/pam.d/tacacsrs-test-17-bench removed at exit.
 * `--baseline PATH` (another build of dist/tacacsrs-agentd, e.g. main's) adds the floors and phases
 * of that binary to the same rounds, so a start-up change is judged side by side on a noisy machine.
 *
 *   bun scripts/bench/pam.ts [--rounds 30] [--pamtester] [--baseline /tmp/old/tacacsrs-agentd]
 */
import { mkdtempSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { parseArgs } from "node:util";
import { AGENT, startAgent, TACON } from "../../test/support/agent-process";
import { installPamService } from "../../test/support/pam-service";
import { startTacacsServer } from "../../test/support/tacacs-server";
import { quantile, round } from "./stats";

const { values } = parseArgs({ options: { rounds: { type: "string", default: "30" }, pamtester: { type: "boolean", default: false }, baseline: { type: "string" } } });
const ROUNDS = Number(values.rounds);
const SECRET = "bench-pam-17";
const PASSWORD = "alicepw";

const server = await startTacacsServer({ key: SECRET });
const agent = await startAgent(["--server-addr", `127.0.0.1:${server.port}`], { TACACSRS_SHARED_SECRET: SECRET });
const logSocket = `${agent.dir}/no-syslog`; // failures are logged to a socket nobody listens on: its cost, no noise
const options = [`service-endpoint=${agent.socket}`, `log-socket=${logSocket}`];
const pamEnv = (phase: string) => ({ PAM_TYPE: phase, PAM_USER: "alice", PAM_SERVICE: "bench", PAM_TTY: "/dev/pts/9", PAM_RHOST: "192.0.2.9" });

interface Case {
  name: string;
  cmd: string[];
  env?: Record<string, string>;
  stdin?: string;
  /** The exit status that means the case did what it measures. */
  expect: number;
}

/** The floors and the four phases of one build (`tacon` is the link the multi-call binary dispatches on). */
function casesOf(agentd: string, tacon: string, label: string): Case[] {
  return [
    { name: `${label}floor: binary start (--version)`, cmd: [agentd, "--version"], expect: 0 },
    { name: `${label}floor: tacon pam, bad option (no agent call)`, cmd: [tacon, "pam", "bogus", ...options], env: pamEnv("auth"), expect: 2 },
    { name: `${label}auth (PAP)`, cmd: [tacon, "pam", ...options], env: pamEnv("auth"), stdin: PASSWORD, expect: 0 },
    { name: `${label}account (authorization)`, cmd: [tacon, "pam", ...options], env: pamEnv("account"), expect: 0 },
    { name: `${label}open_session (accounting START)`, cmd: [tacon, "pam", ...options], env: pamEnv("open_session"), expect: 0 },
    { name: `${label}close_session (accounting STOP)`, cmd: [tacon, "pam", ...options], env: pamEnv("close_session"), expect: 0 },
  ];
}

const cases: Case[] = casesOf(AGENT, TACON, "");
let baselineDir: string | undefined;
if (values.baseline) {
  baselineDir = mkdtempSync(`${tmpdir()}/bench-pam-17-baseline-`);
  symlinkSync(values.baseline, `${baselineDir}/tacon`);
  cases.push(...casesOf(values.baseline, `${baselineDir}/tacon`, "baseline: "));
}

let cleanupPam = () => {};
if (values.pamtester) {
  const tacon = `${TACON} pam ${options.join(" ")}`;
  const service = installPamService("tacacsrs-test-17-bench", ["auth", "account", "session"].map((type) => `${type} required pam_exec.so ${type === "auth" ? "expose_authtok " : ""}quiet ${tacon}`).join("\n") + "\n");
  cleanupPam = () => service.remove();
  const pamtester = (operation: string, stdin?: string): Case => ({ name: `pamtester ${operation}`, cmd: ["pamtester", "-I", "tty=pts/9", "-I", "rhost=192.0.2.9", service.name, "alice", operation], stdin, expect: 0 });
  cases.push(pamtester("authenticate", `${PASSWORD}\n`), pamtester("acct_mgmt"), pamtester("open_session"), pamtester("close_session"));
}

const wallMs = new Map<string, number[]>(cases.map((c) => [c.name, []]));
const cpuMs = new Map<string, number[]>(cases.map((c) => [c.name, []]));

async function runOnce(c: Case): Promise<void> {
  const started = performance.now();
  const child = Bun.spawn(c.cmd, { env: { PATH: process.env.PATH ?? "", ...c.env }, stdin: c.stdin === undefined ? "ignore" : new TextEncoder().encode(c.stdin), stdout: "ignore", stderr: "pipe" });
  const exit = await child.exited;
  const elapsed = performance.now() - started;
  if (exit !== c.expect) throw new Error(`${c.name}: exit ${exit}, expected ${c.expect}: ${await new Response(child.stderr).text()}`);
  wallMs.get(c.name)!.push(elapsed);
  const usage = child.resourceUsage();
  if (usage) cpuMs.get(c.name)!.push(Number(usage.cpuTime.user + usage.cpuTime.system) / 1000);
}

try {
  for (const c of cases) await runOnce(c); // warm the page cache; not counted
  for (const samples of [...wallMs.values(), ...cpuMs.values()]) samples.length = 0;
  for (let r = 0; r < ROUNDS; r++) for (const c of cases) await runOnce(c);
} finally {
  cleanupPam();
  if (baselineDir) rmSync(baselineDir, { recursive: true, force: true });
  await agent.stop();
  await server.stop();
}

const stat = (samples: number[], q: number) => round(quantile(Float64Array.from(samples).sort(), q), 1);
console.log(`\n${ROUNDS} interleaved rounds${values.baseline ? ` (baseline: ${values.baseline})` : ""}, ${new Date().toISOString()}, load average ${(await Bun.file("/proc/loadavg").text()).split(" ").slice(0, 3).join(" ")}\n`);
console.log("| case | wall p50 ms | wall p90 ms | CPU p50 ms |");
console.log("|---|---|---|---|");
for (const c of cases) console.log(`| ${c.name} | ${stat(wallMs.get(c.name)!, 0.5)} | ${stat(wallMs.get(c.name)!, 0.9)} | ${stat(cpuMs.get(c.name)!, 0.5)} |`);
