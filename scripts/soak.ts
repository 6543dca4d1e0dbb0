/**
 * `npm run soak`: the compiled agent under steady mixed traffic while upstream faults come and go.
 *
 * Two fault-injecting test servers (preferred and backup) behind dist/tacacsrs-agentd; workers send
 * accounting and authorization through the gRPC API (as tacon does) and the TACACS+ proxy (as a
 * legacy client does), retrying accounting after a retriable error with the same task_id, as the
 * README asks callers to. Every few seconds a fault is switched on for a while (on the preferred
 * server, sometimes on both), then off. At the end: requests, outcomes, errors by kind, accounting
 * records stored vs acknowledged (README "Delivery rules"), and the agent's RSS over time.
 * Exit 1 on a lost record, a duplicate behind a caller's back, a broken exchange or a dead agent.
 *
 *   bun scripts/soak.ts [--minutes 10] [--workers 8] [--fault-seconds 6]
 */
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { startAgent } from "../test/support/agent-process";
import { NO_FAULTS, startTacacsServer, type Faults, type TestServer } from "../test/support/tacacs-server";
import { accountingViolations, newTaskId, send, tally, type EntryPoint, type RequestKind, type Sent, type Targets } from "../test/reliability/traffic";

const { values } = parseArgs({
  options: { minutes: { type: "string", default: "10" }, workers: { type: "string", default: "8" }, "fault-seconds": { type: "string", default: "6" } },
});
const minutes = Number(values.minutes);
const workers = Number(values.workers);
const faultMs = Number(values["fault-seconds"]) * 1000;
if (!(minutes > 0) || !(workers > 0) || !(faultMs > 0)) throw new Error("--minutes, --workers and --fault-seconds must be positive numbers");

const SECRET = "soak-shared-secret";
const KEY = new TextEncoder().encode(SECRET);
/** Each fault in turn; `both` also breaks the backup (NoResponsiveServer for a while). */
const FAULTS: { name: string; faults?: Partial<Faults>; reset?: boolean; both?: boolean }[] = [
  { name: "refused", faults: { refuse: true } },
  { name: "black hole", faults: { blackHole: true } },
  { name: "close after request", faults: { closeAfterRequest: true } },
  { name: "close mid-reply", faults: { closeMidReply: true } },
  { name: "slow reply", faults: { delayMs: 1500 } },
  { name: "garbage", faults: { garbage: true } },
  { name: "wrong key", faults: { wrongKey: true } },
  { name: "ERROR reply", faults: { replyStatus: "error" } },
  { name: "connection reset", reset: true },
  { name: "both refused", faults: { refuse: true }, both: true },
  { name: "both black hole", faults: { blackHole: true }, both: true },
];

function rssMb(pid: number): number {
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return match ? Math.round(Number(match[1]) / 1024) : NaN;
}

/** An error message without addresses and numbers, as a kind to count. */
function errorKind(message: string): string {
  return message.replace(/\[?[\d.:a-f]*\d\]?(:\d+)?/g, "N").replace(/\s+/g, " ").slice(0, 100);
}

const primary = await startTacacsServer({ key: SECRET });
const backup = await startTacacsServer({ key: SECRET });
const servers: Record<string, TestServer> = { primary, backup };
const agent = await startAgent([
  "--server-addr", `127.0.0.1:${primary.port}`, "--server-addr", `127.0.0.1:${backup.port}`,
  "--proxy-endpoint", "127.0.0.1:0", "--service-mode", "both",
  "--request-timeout-seconds", "1", "--connect-timeout-seconds", "1", "--preferred-probe-interval-seconds", "2", "-vv",
], { TACACSRS_SHARED_SECRET: SECRET });
const proxyPort = Number(/TACACS\+ proxy listening on 127\.0\.0\.1:(\d+)/.exec(agent.output())?.[1]);
if (!proxyPort) throw new Error(`the agent did not log its proxy port:\n${agent.output()}`);
const targets: Targets = { api: { kind: "unix", path: agent.socket }, proxy: { kind: "tcp", host: "127.0.0.1", port: proxyPort }, proxyKey: KEY, timeoutMs: 10_000 };

const started = Date.now();
const until = started + minutes * 60_000;
const sent: Sent[] = [];
const errors = new Map<string, number>();
const rss: { atS: number; mb: number }[] = [{ atS: 0, mb: rssMb(agent.process.pid) }];
const faultLog: string[] = [];

/** One request and, for accounting, the caller's retries after retriable errors (same task_id). */
async function request(entry: EntryPoint, kind: RequestKind): Promise<void> {
  const taskId = newTaskId(`soak-${entry}`);
  for (let attempt = 0; attempt < 5; attempt++) {
    const result = await send(targets, entry, kind, taskId);
    sent.push(result);
    if (result.outcome.kind === "error") {
      const key = `${entry}: ${errorKind(result.outcome.message)}`;
      errors.set(key, (errors.get(key) ?? 0) + 1);
    }
    const retry = kind === "accounting" && result.outcome.kind === "error" && result.outcome.retriable;
    if (!retry) return;
    await Bun.sleep(200 * (attempt + 1));
  }
}

async function worker(index: number): Promise<void> {
  const entry: EntryPoint = index % 2 === 0 ? "api" : "proxy";
  let n = 0;
  while (Date.now() < until) {
    await request(entry, n++ % 3 === 0 ? "authorization" : "accounting");
    await Bun.sleep(Math.floor(Math.random() * 20));
  }
}

async function injector(): Promise<void> {
  let next = 0;
  while (Date.now() + 2 * faultMs < until) {
    await Bun.sleep(faultMs);
    const fault = FAULTS[next++ % FAULTS.length]!;
    faultLog.push(`${Math.round((Date.now() - started) / 1000)}s ${fault.name}`);
    if (fault.reset) primary.resetConnections();
    if (fault.faults) {
      primary.setFaults(fault.faults);
      if (fault.both) backup.setFaults(fault.faults);
    }
    await Bun.sleep(faultMs);
    primary.setFaults(NO_FAULTS);
    backup.setFaults(NO_FAULTS);
  }
}

const sampler = setInterval(() => rss.push({ atS: Math.round((Date.now() - started) / 1000), mb: rssMb(agent.process.pid) }), 5000);
const progress = setInterval(() => console.log(`soak: ${Math.round((Date.now() - started) / 1000)}s, ${sent.length} requests, RSS ${rss.at(-1)?.mb} MB, last fault: ${faultLog.at(-1) ?? "none"}`), 30_000);
console.log(`soak: ${minutes} min, ${workers} workers (API and proxy), faults every ${faultMs / 1000}s; agent pid ${agent.process.pid}`);
await Promise.all([injector(), ...Array.from({ length: workers }, (_, i) => worker(i))]);
clearInterval(sampler);
clearInterval(progress);
rss.push({ atS: Math.round((Date.now() - started) / 1000), mb: rssMb(agent.process.pid) });

// After the faults: the agent still answers both entry points.
const after = await Promise.all([send(targets, "api", "accounting"), send(targets, "proxy", "accounting")]);
sent.push(...after);
const healthy = after.every((s) => s.outcome.kind === "answer" && s.outcome.ok);
const exit = await agent.stop();

const acknowledged = sent.filter((s) => s.request === "accounting" && s.outcome.kind === "answer" && s.outcome.ok).length;
const stored = primary.records.length + backup.records.length;
const violations = accountingViolations(sent, { primary: primary.records, backup: backup.records }, (label) => `127.0.0.1:${servers[label]!.port}`);
const unanswered = new Set(sent.filter((s) => s.request === "accounting").map((s) => s.taskId));
for (const s of sent) if (s.outcome.kind === "answer" && s.outcome.ok) unanswered.delete(s.taskId);
const broken = sent.filter((s) => s.outcome.kind === "broken");

console.log("\n=== soak report ===");
console.log(`duration ${Math.round((Date.now() - started) / 1000)}s, requests ${sent.length} (${Math.round(sent.length / ((Date.now() - started) / 1000))}/s)`);
console.log("outcomes:", JSON.stringify(tally(sent), null, 1));
console.log("errors by kind:");
for (const [kind, count] of [...errors].sort((a, b) => b[1] - a[1])) console.log(`  ${String(count).padStart(6)}  ${kind}`);
console.log(`accounting: acknowledged ${acknowledged}, stored ${stored} (primary ${primary.records.length}, backup ${backup.records.length}), duplicates after retriable errors ${stored - acknowledged}`);
console.log(`accounting task_ids never acknowledged after 5 attempts: ${unanswered.size}`);
console.log(`delivery-rule violations: ${violations.length}${violations.length ? `\n  ${violations.slice(0, 20).join("\n  ")}` : ""}`);
console.log(`broken exchanges (no outcome): ${broken.length}${broken.length ? `\n  ${broken.slice(0, 10).map((b) => JSON.stringify(b.outcome)).join("\n  ")}` : ""}`);
console.log(`RSS MB over time: ${rss.map((r) => `${r.atS}s:${r.mb}`).join(" ")}`);
console.log(`faults: ${faultLog.join(", ")}`);
console.log(`after the faults: ${healthy ? "serving" : "NOT serving"}; exit status on SIGTERM ${exit}`);

await primary.stop();
await backup.stop();
const failed = violations.length > 0 || broken.length > 0 || !healthy || exit !== 0;
console.log(failed ? "SOAK FAILED" : "soak passed");
process.exit(failed ? 1 : 0);
