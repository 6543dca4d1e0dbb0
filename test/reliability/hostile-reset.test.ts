/**
 * Issue 19, item 4: rapid reset (CVE-2023-44487) cannot reach the upstream beyond
 * --max-sessions-in-flight. Authorizations reset right after their request, on many connections
 * that reconnect when cut off, behind a server that answers after 2 s. The old agent freed a
 * cancelled call's upstream slot at once while the server still worked on it, so the resets
 * became thousands of upstream sessions; now a slot is held until the session really ends.
 */
import { afterEach, expect, test } from "bun:test";
import { callUnary } from "../../src/api/client";
import { AGENT_SERVICE, methodsOf } from "../../src/api/proto";
import { agentUnderAttack, RawH2, rssKiB, startChecker, successRate } from "../support/hostile-client";
import { FrameType, frame, grpcMessage, u32 } from "./h2-frames";

const SECRET = "hostile-reset-19";
const MAX_SESSIONS_IN_FLIGHT = 256;
const AUTHORIZATION = methodsOf(AGENT_SERVICE).find((m) => m.path.endsWith("/Authorization"))!;
const REQUEST = grpcMessage(
  AUTHORIZATION.requestType.encode(AUTHORIZATION.requestType.fromObject({ user: "alice", authenticationContext: 1, args: [{ name: "service", value: "shell", mandatory: true }, { name: "cmd", value: "show", mandatory: true }] })).finish(),
);
const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await Promise.resolve(cleanup()).catch(() => {});
});

/** One connection sending `calls` Authorizations, each reset right after its request. */
async function resetFlood(socket: string, calls: number): Promise<void> {
  const raw = await RawH2.handshake(socket);
  try {
    const ids = Array.from({ length: calls }, (_, i) => 2 * i + 1);
    await raw.write(...ids.flatMap((id) => [raw.request(id, AUTHORIZATION.path, [["grpc-timeout", "10S"]]), frame(FrameType.Data, 0x1, id, REQUEST)]));
    // Reset once the agent has started the calls (their upstream requests are out).
    await raw.sync(5000);
    await raw.write(...ids.map((id) => frame(FrameType.RstStream, 0, id, u32(8))));
    await raw.sync(5000);
  } finally {
    raw.close();
  }
}

test("reset Authorizations over many connections stay within --max-sessions-in-flight upstream", async () => {
  const { agent, api, server } = await agentUnderAttack(SECRET, cleanups, 2000);
  const before = rssKiB(agent.process.pid);
  // The upstream connection has negotiated single-connect before the attack (answered in 2 s).
  await callUnary(api, "Authorization", { user: "alice", authenticationContext: 1, args: [{ name: "service", value: "shell", mandatory: true }, { name: "cmd", value: "show", mandatory: true }] }, 5000);
  const checker = startChecker(api);
  const started = Date.now();
  let resets = 0;
  // Rounds of 20 connections × 30 resets (under the per-connection guard), reconnecting each round.
  while (Date.now() - started < 1500) {
    await Promise.all(Array.from({ length: 20 }, () => resetFlood(agent.socket, 30)));
    resets += 20 * 30;
  }
  const upstream = server.counters.packetsReceived - 1;
  const result = await checker.stop();
  console.log(`rapid reset: ${resets} reset calls in ${Date.now() - started} ms became ${upstream} upstream packets; checker ${result.ok} ok / ${result.failed} failed`);
  // Within the first 2 s no upstream session ends, so at most the in-flight limit started.
  expect(upstream).toBeLessThanOrEqual(MAX_SESSIONS_IN_FLIGHT);
  expect(resets).toBeGreaterThan(3 * MAX_SESSIONS_IN_FLIGHT);
  expect(successRate(result)).toBeGreaterThanOrEqual(0.95);
  expect(rssKiB(agent.process.pid) - before).toBeLessThan(96 * 1024);
}, 30_000);
