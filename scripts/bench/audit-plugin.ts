/**
 * Throughput of the audit plugin (issue 22): exec events at a steady rate through the compiled
 * tacacsrs-audit-plugin, the compiled agent and the test TACACS+ server on loopback. Reports
 * events accounted and dropped, the plugin's CPU per event, and the agent's.
 *
 *   bun scripts/bench/audit-plugin.ts [--rate 1000] [--seconds 10]   # synthetic records on stdin
 *   sudo bun scripts/bench/audit-plugin.ts --real [--seconds 5]       # real execs through real auditd
 *
 * Synthetic: the records of a real exec event (test/fixtures/audit/) with fresh serials and
 * times, written to the plugin's stdin as auditd would, in 10 ms batches. --real: a shell with
 * a test login uid runs /bin/true in a loop under a private auditd (test/support/auditd.ts;
 * the kernel's audit state is restored), as fast as this machine forks; the rate is measured.
 */
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { callUnary } from "../../src/api/client";
import { startAgent } from "../../test/support/agent-process";
import { spawnAuditedShell, startAuditd } from "../../test/support/auditd";
import { startTacacsServer } from "../../test/support/tacacs-server";
import { cpuMs } from "./proc";
import { round } from "./stats";

const { values } = parseArgs({
  options: { rate: { type: "string", default: "1000" }, seconds: { type: "string", default: "10" }, real: { type: "boolean", default: false } },
});
const RATE = Number(values.rate);
const SECONDS = Number(values.seconds);
const root = new URL("../..", import.meta.url).pathname;
const PLUGIN = `${root}dist/tacacsrs-audit-plugin`;
/** The plugin's command line; AUDIT_PLUGIN_CMD (space-separated) runs another, e.g. from source under a profiler. */
const PLUGIN_CMD = process.env.AUDIT_PLUGIN_CMD?.split(" ") ?? [PLUGIN];
const KEY = "tacacsrs-bench-22";
const AUID = 61222;
const SECRET = "bench-audit-22";

const server = await startTacacsServer({ key: SECRET });
const agent = await startAgent(["--server-addr", `127.0.0.1:${server.port}`], { TACACSRS_SHARED_SECRET: SECRET });
const pluginArgs = `service-endpoint=${agent.socket},key=${KEY},report-interval-seconds=1`;
const register = (ses: number) =>
  callUnary({ kind: "unix", path: agent.socket }, "RegisterAuditSession", { session: { sessionId: ses, loginUid: AUID, user: "bench", port: "pts/0", remoteAddress: "192.0.2.1", privilegeLevel: 1, taskBase: "bench" } }, 5000);
const pluginStatus = async () => /audit plugin.*$/m.exec((await agent.tacon(["status"])).stdout)?.[0] ?? "no report";

try {
  if (values.real) await real();
  else await synthetic();
} finally {
  await agent.stop();
  await server.stop();
}

/** One event's records from the fixture, as a template with the serial, time and session replaced. */
function template(): (serial: number, timeMs: number, ses: number) => string {
  const lines = readFileSync(`${root}test/fixtures/audit/exec-records.txt`, "utf8").split("\n").filter((line) => line.includes(":14):"));
  const text = `${lines.join("\n")}\n`.replaceAll('key="tacacsrs-capture-22"', `key="${KEY}"`).replaceAll("auid=61122", `auid=${AUID}`).replaceAll(" ses=1 ", " ses=SES ");
  return (serial, timeMs, ses) =>
    text.replaceAll("msg=audit(1796287307.824:14)", `msg=audit(${Math.floor(timeMs / 1000)}.${String(timeMs % 1000).padStart(3, "0")}:${serial})`).replaceAll("SES", String(ses));
}

async function synthetic(): Promise<void> {
  const SES = 900_022;
  await register(SES);
  const plugin = Bun.spawn([...PLUGIN_CMD, pluginArgs], { stdin: "pipe", stdout: "ignore", stderr: "pipe" });
  const records = template();
  const perBatch = RATE / 100;
  let serial = 1;
  const cpuStart = { plugin: cpuMs(plugin.pid), agent: cpuMs(agent.process.pid) };
  const started = Date.now();
  for (let batch = 0; batch < SECONDS * 100; batch++) {
    const now = Date.now();
    let chunk = "";
    for (let i = 0; i < perBatch; i++) chunk += records(serial++, now, SES);
    plugin.stdin.write(chunk);
    await plugin.stdin.flush();
    const next = started + (batch + 1) * 10;
    if (next > Date.now()) await Bun.sleep(next - Date.now());
  }
  const sent = serial - 1;
  const elapsed = (Date.now() - started) / 1000;
  // Wait until the server has every record (or 10 s), then read the CPU before the plugin exits.
  const deadline = Date.now() + 10_000;
  while (server.records.length < sent && Date.now() < deadline) await Bun.sleep(50);
  const cpu = { plugin: cpuMs(plugin.pid) - cpuStart.plugin, agent: cpuMs(agent.process.pid) - cpuStart.agent };
  await Bun.sleep(1200);
  const status = await pluginStatus();
  plugin.stdin.end();
  await plugin.exited;
  console.log(`synthetic: ${sent} exec events in ${round(elapsed, 1)} s (${round(sent / elapsed)}/s target ${RATE}/s); server received ${server.records.length}`);
  console.log(`  ${status}`);
  console.log(`  plugin CPU ${round(cpu.plugin)} ms = ${round((cpu.plugin * 1000) / sent, 1)} µs/event; agent CPU ${round(cpu.agent)} ms = ${round((cpu.agent * 1000) / sent, 1)} µs/event`);
}

async function real(): Promise<void> {
  const count = RATE * SECONDS;
  const auditd = await startAuditd({ key: KEY, auid: AUID, plugin: { path: PLUGIN, args: [pluginArgs] } });
  try {
    const shell = spawnAuditedShell(AUID, `i=0; while [ $i -lt ${count} ]; do /bin/true; i=$((i+1)); done`);
    const reader = shell.stdout.getReader();
    const ses = Number(new TextDecoder().decode((await reader.read()).value).trim().split("\n")[0]);
    await register(ses);
    const started = Date.now();
    shell.stdin.write("go\n");
    shell.stdin.end();
    await shell.exited;
    const elapsed = (Date.now() - started) / 1000;
    // setpriv and the shell's own exec come before the loop's /bin/true execs.
    const expected = count + 2;
    const deadline = Date.now() + 20_000;
    while (server.records.length < expected && Date.now() < deadline) await Bun.sleep(100);
    await Bun.sleep(1500);
    console.log(`real: ${count} execs of /bin/true in ${round(elapsed, 1)} s (${round(count / elapsed)}/s); server received ${server.records.length} of ${expected}`);
    console.log(`  ${await pluginStatus()}`);
  } finally {
    await auditd.stop();
  }
}
