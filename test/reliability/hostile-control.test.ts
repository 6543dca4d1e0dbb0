/**
 * Issue 19, items 5, 6 and 8: control frames cost the attacker, not the agent. SETTINGS frames
 * full of INITIAL_WINDOW_SIZE entries on connections with many open streams (the old agent
 * walked every open stream per entry), and PING / WINDOW_UPDATE / PRIORITY floods (no limit on
 * the old agent) end with GOAWAY ENHANCE_YOUR_CALM while a checker's calls stay fast; an early
 * error on the last DATA frame is answered with one RST_STREAM (the old agent sent two).
 */
import { afterEach, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import type { Endpoint } from "../../src/common/endpoint";
import type { AgentProcess } from "../support/agent-process";
import { agentUnderAttack, H2Error, HEALTH_CHECK, p95, RawH2, repeated, rssKiB, startChecker, successRate } from "../support/hostile-client";
import { FrameType, frame, grpcMessage, u32 } from "./h2-frames";

const SECRET = "hostile-control-19";
const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await Promise.resolve(cleanup()).catch(() => {});
});

/** Writes `burst` over and over for `ms` or until the agent closes the connection. */
async function flood(raw: RawH2, burst: Uint8Array, ms: number): Promise<void> {
  const until = Date.now() + ms;
  while (!raw.closed && raw.goAway === undefined && Date.now() < until) await raw.write(burst);
}

/** Floods from every attacker for up to 3 s with a checker running; each attacker must be cut off, the checker unharmed. */
async function floodAndCheck(label: string, agent: AgentProcess, api: Endpoint, before: number, attackers: RawH2[], burst: (i: number) => Uint8Array): Promise<void> {
  const checker = startChecker(api, 100);
  await Promise.all(attackers.map((raw, i) => flood(raw, burst(i), 3000)));
  await Bun.sleep(300);
  const result = await checker.stop();
  console.log(`${label}: GOAWAY codes ${attackers.map((raw) => raw.goAway ?? (raw.closed ? "closed" : "open")).join(",")}, checker ${result.ok} ok / ${result.failed} failed, p95 ${Math.round(p95(result))} ms`);
  expect(attackers.every(cutOff)).toBe(true);
  expect(successRate(result)).toBeGreaterThanOrEqual(0.95);
  expect(p95(result)).toBeLessThan(1000);
  expect(rssKiB(agent.process.pid) - before).toBeLessThan(64 * 1024);
}

/**
 * The agent cut the connection off: GOAWAY ENHANCE_YOUR_CALM, or a close alone when the GOAWAY
 * sat behind replies the flooding client had not read yet.
 */
function cutOff(raw: RawH2): boolean {
  return raw.goAway === H2Error.ENHANCE_YOUR_CALM || (raw.goAway === undefined && raw.closed);
}


test("16 KiB SETTINGS frames over many open streams: GOAWAY ENHANCE_YOUR_CALM, other callers unaffected", async () => {
  const { agent, api } = await agentUnderAttack(SECRET, cleanups);
  const before = rssKiB(agent.process.pid);
  const attackers = await Promise.all(Array.from({ length: 4 }, () => RawH2.handshake(agent.socket)));
  cleanups.push(() => attackers.forEach((raw) => raw.close()));
  // Streams left open: request headers, no body (each waits for its 30 s default deadline).
  for (const raw of attackers) await raw.write(...Array.from({ length: 1000 }, (_, i) => raw.request(2 * i + 1, HEALTH_CHECK)));
  await Promise.all(attackers.map((raw) => raw.sync()));
  const entries = Array.from({ length: 2730 }, (_, i): [number, number] => [0x4, 65_535 + (i % 2)]);
  const payload = new Uint8Array(entries.length * 6);
  entries.forEach(([id, value], i) => {
    new DataView(payload.buffer).setUint16(6 * i, id);
    new DataView(payload.buffer).setUint32(6 * i + 2, value);
  });
  const settingsBurst = repeated(frame(FrameType.Settings, 0, 0, payload), 8);
  await floodAndCheck("SETTINGS flood", agent, api, before, attackers, () => settingsBurst);
}, 30_000);

test("PING, WINDOW_UPDATE and PRIORITY floods end with GOAWAY ENHANCE_YOUR_CALM, counted in the metrics; other callers unaffected", async () => {
  const metrics = join(mkdtempSync(join(tmpdir(), "hostile-control-19-")), "metrics.sock");
  cleanups.push(() => rmSync(dirname(metrics), { recursive: true, force: true }));
  const { agent, api } = await agentUnderAttack(SECRET, cleanups, 0, ["--metrics-endpoint", metrics]);
  const before = rssKiB(agent.process.pid);
  const bursts = [
    repeated(frame(FrameType.Ping, 0, 0, new Uint8Array(8)), 2000),
    repeated(frame(FrameType.WindowUpdate, 0, 0, u32(1)), 2000),
    repeated(frame(FrameType.Priority, 0, 3, new Uint8Array(5)), 2000),
    repeated(frame(FrameType.WindowUpdate, 0, 0, u32(1)), 2000),
  ];
  const attackers = await Promise.all(bursts.map(() => RawH2.handshake(agent.socket)));
  cleanups.push(() => attackers.forEach((raw) => raw.close()));
  await floodAndCheck("control floods", agent, api, before, attackers, (i) => bursts[i]!);
  const scraped = await (await fetch("http://localhost/metrics", { unix: metrics } as RequestInit)).text();
  expect(scraped).toContain('tacacsrs_api_http2_refusals_total{reason="controlFloods"} 4');
}, 30_000);

test("an error found on the last DATA frame is answered with one RST_STREAM", async () => {
  const { agent } = await agentUnderAttack(SECRET, cleanups);
  const raw = await RawH2.handshake(agent.socket);
  cleanups.push(() => raw.close());
  // A compressed message (flag 1) in the request's only, final DATA frame: UNIMPLEMENTED at once.
  await raw.write(raw.request(1, HEALTH_CHECK), frame(FrameType.Data, 0x1, 1, grpcMessage(new Uint8Array(2), 1)));
  expect(await raw.sync()).toBe(true);
  await Bun.sleep(100);
  expect(raw.ended.has(1)).toBe(true);
  expect(raw.resets.get(1) ?? []).toHaveLength(1);
  expect(raw.resets.get(1)![0]).toBe(H2Error.NO_ERROR);
}, 15_000);
