/**
 * Accounting delivery (issue 15), short runs on this machine:
 *   bun scripts/bench/accounting-spool.ts [rounds=4] [seconds=3] [backlog=100000] [parts=ab,spooling,drain]
 *
 * 1. Spool configured but idle (server up) vs no spool: two agents in front of one test server,
 *    the same 64-caller gRPC accounting load alternated between them (A/B in one run): RPC/s,
 *    p50/p99, agent CPU µs per call.
 * 2. Spooling (server refusing): durable records/s at 64 callers, records per fsync (group commit).
 * 3. Drain, `rounds` times: a backlog of `backlog` records written into a spool directory, then an
 *    agent started on it with the server up, while live accounting runs at 500/s (open loop: one 6 s
 *    window, then 1 s windows for as long as the backlog lasts): drain records/s, live p99 over the
 *    first window against 6 s of the same live load without a backlog (a fresh agent, just before),
 *    agent RSS idle / at start / peak while draining / after; then every round's ratio and the ratio
 *    of the medians (a single 6 s p99, the 30th-worst of ~3,000 calls, swings 0.85-2.84x between
 *    two fresh agents with no backlog at all).
 */
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { Spool } from "../../src/accounting";
import { callUnary } from "../../src/api/client";
import { silentLogger } from "../../src/common/log";
import { AcctFlags, AuthenMethod, AuthenService, AuthenType, encodeAcctRequest, VERSION_DEFAULT } from "../../src/protocol";
import { systemClock } from "../../src/upstream/clock";
import { LOOPBACK, SHARED_SECRET } from "./context";
import { AgentProcess, ServerProcess, cleanupAll, workDir } from "./peers";
import { rssMb, rssSampler } from "./proc";
import { measureLoad, type MeasuredLoad } from "./run-load";
import { median, round } from "./stats";

const [roundsText = "4", secondsText = "3", backlogText = "100000", partsText = "ab,spooling,drain"] = process.argv.slice(2);
const parts = new Set(partsText.split(","));
const rounds = Number(roundsText);
const durationMs = Number(secondsText) * 1000;
const backlog = Number(backlogText);
/**
 * Live p99 with and without a backlog is compared over one window this long (~3,000 requests at
 * 500/s; a 1 s window's p99 is its 5th-worst request). While live requests are answered the replay
 * keeps to 10,000 records/s, so a 100,000-record backlog outlasts it; the left count shows it did.
 */
const P99_WINDOW_MS = 6000;
/** After that window, live latency is shown in windows this long until the backlog is gone. */
const DRAIN_WINDOW_MS = 1000;

function spoolDir(name: string): string {
  const dir = join(workDir(), name);
  mkdirSync(dir, { mode: 0o700 });
  return dir;
}

const closed = (agent: AgentProcess, ms: number, warmupMs = 500) => ({ client: { kind: "grpc" as const, endpoint: agent.api, sessions: 1 }, load: { closed: 64 }, warmupMs, durationMs: ms });

async function spoolStatus(agent: AgentProcess): Promise<Record<string, number>> {
  const reply = await callUnary(agent.api, "Status", {}, 5000);
  return reply.accountingSpool as Record<string, number>;
}

function line(label: string, m: MeasuredLoad): string {
  return `${label}: ${m.rps} RPC/s, p50 ${m.p50Us} µs, p99 ${m.p99Us} µs, agent ${m.cpuUsPerRequest.agent} µs/call, errors ${m.errors}`;
}

/** Writes `count` records into `dir` the way the agent does (group commits of 1,000). */
async function prefill(dir: string, count: number): Promise<void> {
  const spool = Spool.open({ dir, maxBytes: 8 * 1024 ** 3, clock: systemClock, log: silentLogger });
  const acceptedAt = Date.now();
  for (let start = 0; start < count; start += 1000) {
    const batch = [];
    for (let n = start; n < Math.min(count, start + 1000); n++) {
      const body = encodeAcctRequest({
        flags: AcctFlags.Stop, authenMethod: AuthenMethod.TacacsPlus, privLvl: 1, authenType: AuthenType.Ascii, authenService: AuthenService.Login,
        user: "bench", port: "tty0", remAddr: "10.0.0.1",
        args: [{ name: "service", value: "shell", mandatory: true }, { name: "cmd", value: "show", mandatory: true }, { name: "task_id", value: `backlog-${n}`, mandatory: true }, { name: "stop_time", value: String(Math.floor(acceptedAt / 1000)), mandatory: true }],
      });
      batch.push(spool.append({ version: VERSION_DEFAULT, acceptedAt, body }));
    }
    await Promise.all(batch);
  }
  await spool.close();
}

/** One drain round: a fresh agent's live p99 without backlog, then a backlog drained under the same live load. */
async function drainRound(base: string[], r: number): Promise<{ baseline: number; draining: number; rate: number }> {
  const live = (agent: AgentProcess, durationMs: number) => ({ client: { kind: "grpc" as const, endpoint: agent.api, sessions: 1 }, load: { open: 500 }, warmupMs: 300, durationMs });
  const quiet = await AgentProcess.start(base);
  const baseline = await measureLoad(live(quiet, P99_WINDOW_MS), { agent: quiet.pid });
  const rssIdle = rssMb(quiet.pid);
  console.log(line(`round ${r}: live 500/s, no backlog, ${P99_WINDOW_MS / 1000} s`, baseline));
  await quiet.stop();
  const dir = spoolDir(`backlog-spool-${r}`);
  const filledAt = performance.now();
  await prefill(dir, backlog);
  console.log(`backlog: ${backlog} records written in ${round(performance.now() - filledAt)} ms`);
  const draining = AgentProcess.spawn([...base, "--accounting-spool-dir", dir]);
  const startedAt = performance.now();
  await draining.waitHealthy();
  const rssStart = rssMb(draining.pid);
  const rssDrain = rssSampler(draining.pid);
  let left = backlog;
  const replayWindows: number[] = [];
  const polling = (async () => {
    while (left > 0 && performance.now() - startedAt < 90_000) {
      await Bun.sleep(50);
      const status = await spoolStatus(draining);
      left = status.records!;
      replayWindows.push(status.replayWindow ?? 0);
    }
    return performance.now();
  })();
  // Live load in windows for as long as the backlog lasts; the backlog left at the end of each is shown.
  const windows: MeasuredLoad[] = [];
  const leftAfter: number[] = [];
  do {
    windows.push(await measureLoad(live(draining, windows.length === 0 ? P99_WINDOW_MS : DRAIN_WINDOW_MS), { agent: draining.pid }));
    leftAfter.push(left);
  } while (left > 0 && performance.now() - startedAt < 90_000);
  const drainMs = (await polling) - startedAt;
  const rssPeak = rssDrain.stop();
  await Bun.sleep(2000);
  const rssAfter = rssMb(draining.pid);
  await draining.stop();
  for (const [n, m] of windows.entries()) console.log(line(`live 500/s while draining, window ${n}, ${(n === 0 ? P99_WINDOW_MS : DRAIN_WINDOW_MS) / 1000} s (${leftAfter[n]} records left at its end)`, m));
  const first = windows[0]!;
  const rate = round(((backlog - left) * 1000) / drainMs);
  const worst = windows.length > 1 ? `${Math.max(...windows.slice(1).map((m) => m.p99Us))} µs` : "none (drained within the first)";
  console.log(`drain: ${backlog - left} of ${backlog} records in ${round(drainMs)} ms = ${rate} records/s (start included); live p99 over the drain's first ${P99_WINDOW_MS / 1000} s ${first.p99Us} µs vs ${baseline.p99Us} µs without backlog: ${round(first.p99Us / baseline.p99Us, 2)}× (${leftAfter[0]} records still spooled at its end); the 1 s windows after it: worst p99 ${worst}`);
  console.log(`replay window (records in flight allowed), sampled every 50 ms: median ${median(replayWindows)}, min ${Math.min(...replayWindows)}, max ${Math.max(...replayWindows)}`);
  console.log(`drain memory: agent RSS ${round(rssIdle, 1)} MB idle (no spool), ${round(rssStart, 1)} MB at start with the backlog, peak ${round(rssPeak, 1)} MB while draining, ${round(rssAfter, 1)} MB 2 s after`);
  return { baseline: baseline.p99Us, draining: first.p99Us, rate };
}

try {
  let server = await ServerProcess.start(["--key", SHARED_SECRET]);
  const base = ["--server-addr", `${LOOPBACK}:${server.port}`, "--shared-secret", SHARED_SECRET];

  // 1. A/B: no spool vs spool configured, idle.
  if (parts.has("ab")) {
    const agents = { none: await AgentProcess.start(base), spool: await AgentProcess.start([...base, "--accounting-spool-dir", spoolDir("idle-spool")]) };
    for (const agent of Object.values(agents)) await measureLoad(closed(agent, 2000, 0), { agent: agent.pid });
    const ab: Record<string, MeasuredLoad[]> = { none: [], spool: [] };
    for (let r = 0; r < rounds; r++) {
      for (const name of r % 2 === 0 ? (["none", "spool"] as const) : (["spool", "none"] as const)) {
        const m = await measureLoad(closed(agents[name], durationMs), { agent: agents[name].pid, server: server.pid });
        ab[name]!.push(m);
        console.log(line(`round ${r} ${name}`, m));
      }
    }
    const med = (name: string, key: "rps" | "p50Us" | "p99Us") => median(ab[name]!.map((m) => m[key]));
    for (const name of ["none", "spool"]) console.log(`A/B ${name}: median ${med(name, "rps")} RPC/s, p50 ${med(name, "p50Us")} µs, p99 ${med(name, "p99Us")} µs`);
    console.log(`A/B spool idle / none: RPC/s ${round(med("spool", "rps") / med("none", "rps"), 3)}, p99 ${round(med("spool", "p99Us") / med("none", "p99Us"), 3)}`);
    await agents.none.stop();
    await agents.spool.stop();
  }

  // 2. Spooling: no server (killed: open connections die too); every record is written and fsync'd before its answer.
  if (parts.has("spooling")) {
    await server.kill();
    const spooling = await AgentProcess.start([...base, "--accounting-spool-dir", spoolDir("spooling-spool")]);
    const rssSpooling = rssSampler(spooling.pid);
    const spooled = await measureLoad(closed(spooling, durationMs), { agent: spooling.pid });
    const after = await spoolStatus(spooling);
    console.log(line("spooling (server down), 64 callers", spooled));
    console.log(`spooling: ${spooled.rps} durable records/s; ${after.appended} appended in ${after.syncs} fsyncs (${round(after.appended! / Math.max(1, after.syncs!), 1)} records/fsync); agent RSS peak ${round(rssSpooling.stop(), 1)} MB`);
    await spooling.stop();
    server = await server.restart();
  }

  // 3. Drain a backlog while live accounting runs at 500/s, `rounds` times (one 6 s p99 is noisy: see RESULTS.md).
  if (parts.has("drain")) {
    const ratios: number[] = [];
    const rates: number[] = [];
    const p99s = { baseline: [] as number[], draining: [] as number[] };
    for (let r = 0; r < rounds; r++) {
      const figures = await drainRound(base, r);
      ratios.push(figures.draining / figures.baseline);
      rates.push(figures.rate);
      p99s.baseline.push(figures.baseline);
      p99s.draining.push(figures.draining);
    }
    console.log(`drain over ${rounds} round(s): records/s ${rates.join(" / ")}; live p99 while draining ${p99s.draining.join(" / ")} µs vs ${p99s.baseline.join(" / ")} µs without backlog = ${ratios.map((ratio) => round(ratio, 2)).join(" / ")}×; median ${median(p99s.draining)} vs ${median(p99s.baseline)} µs = ${round(median(p99s.draining) / median(p99s.baseline), 2)}×`);
  }
} finally {
  await cleanupAll();
}
