/**
 * Issue 19, items 2 and 7: call slots are shared fairly. One connection opening 1,024 health
 * Watch streams without a deadline (old agent: every other client's calls then failed with
 * RESOURCE_EXHAUSTED), and a client that lets replies pile up on a zero window (old agent: every
 * finished stream kept, uncounted). A checker makes legitimate calls on its own connections.
 */
import { afterEach, expect, test } from "bun:test";
import { agentUnderAttack, H2Error, HEALTH_CHECK, HEALTH_WATCH, RawH2, rssKiB, startChecker, successRate } from "../support/hostile-client";
import { FrameType, frame, grpcMessage } from "./h2-frames";

const SECRET = "hostile-slots-19";
const EMPTY_MESSAGE = frame(FrameType.Data, 0x1, 0, grpcMessage(new Uint8Array(0)));
const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await Promise.resolve(cleanup()).catch(() => {});
});


/** DATA with END_STREAM carrying an empty request message on `streamId`. */
function emptyRequest(streamId: number): Uint8Array {
  const bytes = EMPTY_MESSAGE.slice();
  new DataView(bytes.buffer).setUint32(5, streamId);
  return bytes;
}

test("1,024 Watch streams on one connection leave the other clients' calls working", async () => {
  const { agent, api } = await agentUnderAttack(SECRET, cleanups);
  const before = rssKiB(agent.process.pid);
  const raw = await RawH2.handshake(agent.socket);
  cleanups.push(() => raw.close());
  const frames: Uint8Array[] = [];
  for (let i = 0; i < 1024; i++) frames.push(raw.request(2 * i + 1, HEALTH_WATCH), emptyRequest(2 * i + 1));
  await raw.write(...frames);
  expect(await raw.sync()).toBe(true);
  const checker = startChecker(api);
  await Bun.sleep(2000);
  const result = await checker.stop();
  const watching = [...raw.answered].filter((id) => !raw.ended.has(id) && !raw.resets.has(id)).length;
  console.log(`watch flood: ${watching} Watch streams held, checker ${result.ok} ok / ${result.failed} failed ${result.errors.join("; ")}`);
  expect(successRate(result)).toBeGreaterThanOrEqual(0.95);
  // A connection holds at most a quarter of --max-api-watch-streams (64); the rest end at once.
  expect(watching).toBeLessThanOrEqual(16);
  expect(watching).toBeGreaterThan(0);
  expect(rssKiB(agent.process.pid) - before).toBeLessThan(64 * 1024);
}, 30_000);

test("finished streams held on a zero window are bounded per connection", async () => {
  const { agent, api } = await agentUnderAttack(SECRET, cleanups);
  const before = rssKiB(agent.process.pid);
  const checker = startChecker(api);
  const CONNECTIONS = 8;
  const attackers = await Promise.all(Array.from({ length: CONNECTIONS }, () => RawH2.handshake(agent.socket, [[0x4, 0]])));
  cleanups.push(() => attackers.forEach((raw) => raw.close()));
  await Promise.all(
    attackers.map(async (raw) => {
      const frames: Uint8Array[] = [];
      for (let i = 0; i < 1000; i++) frames.push(raw.request(2 * i + 1, HEALTH_CHECK), emptyRequest(2 * i + 1));
      await raw.write(...frames);
      expect(await raw.sync()).toBe(true);
    }),
  );
  await Bun.sleep(500);
  const result = await checker.stop();
  const refused = attackers.map((raw) => [...raw.resets.values()].filter((codes) => codes.includes(H2Error.REFUSED_STREAM)).length);
  const grown = rssKiB(agent.process.pid) - before;
  console.log(`zero window: refused per connection ${refused.join(",")}, agent RSS +${Math.round(grown / 1024)} MiB, checker ${result.ok} ok / ${result.failed} failed`);
  // Replies that cannot leave keep their stream, which counts against the connection's 100.
  expect(refused.every((count) => count >= 1000 - 100)).toBe(true);
  expect(successRate(result)).toBeGreaterThanOrEqual(0.95);
  expect(grown).toBeLessThan(64 * 1024);
}, 30_000);
