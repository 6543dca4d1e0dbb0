/**
 * Issue 19, item 1: memory per call is bounded by what the call actually holds, not by frame
 * count. Attack clients against the compiled agent with default limits: request bodies sent in
 * 1-byte DATA frames (each frame an object of ~77 bytes on the old agent), and uploads that
 * together exceed a connection's share of the request-buffer budget; a checker makes legitimate
 * calls on its own connections meanwhile.
 */
import { afterEach, expect, test } from "bun:test";
import { agentUnderAttack, H2Error, RawH2, repeated, rssKiB, startChecker, successRate } from "../support/hostile-client";
import { FrameType, frame, grpcMessage } from "./h2-frames";

const SECRET = "hostile-memory-19";
const ACCOUNTING = "/tacacsrs.agent.v1.TacacsAgent/Accounting";
const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await Promise.resolve(cleanup()).catch(() => {});
});


/** `count` DATA frames of one body byte each on `streamId`, as one buffer. */
function oneByteFrames(streamId: number, count: number): Uint8Array {
  return repeated(frame(FrameType.Data, 0, streamId, Uint8Array.of(0x42)), count);
}

test("a body dripped in 1-byte DATA frames costs about its own size, not ~77 bytes per byte", async () => {
  const { agent, api } = await agentUnderAttack(SECRET, cleanups);
  const before = rssKiB(agent.process.pid);
  const checker = startChecker(api);
  const CONNECTIONS = 4;
  const FRAMES = 400_000; // per connection: 4 MB on the wire, 400 KB of body
  const burst = oneByteFrames(1, 40_000);
  const attackers = await Promise.all(Array.from({ length: CONNECTIONS }, () => RawH2.handshake(agent.socket)));
  cleanups.push(() => attackers.forEach((raw) => raw.close()));
  await Promise.all(
    attackers.map(async (raw) => {
      // A message declared at almost 4 MiB that never completes, held for "99999999 hours".
      await raw.write(raw.request(1, ACCOUNTING, [["grpc-timeout", "99999999H"]]), frame(FrameType.Data, 0, 1, grpcMessage(new Uint8Array(0), 0, 4 * 1024 * 1024 - 1)));
      for (let sent = 0; sent < FRAMES; sent += 40_000) await raw.write(burst);
      expect(await raw.sync()).toBe(true);
    }),
  );
  const grown = rssKiB(agent.process.pid) - before;
  const result = await checker.stop();
  console.log(`1-byte frames: ${CONNECTIONS} × ${FRAMES} frames, agent RSS +${Math.round(grown / 1024)} MiB, checker ${result.ok} ok / ${result.failed} failed`);
  // 1.6 MB of body; the old agent held ~120 MB for it.
  expect(grown).toBeLessThan(48 * 1024);
  expect(successRate(result)).toBeGreaterThanOrEqual(0.95);
  expect(attackers.every((raw) => !raw.closed)).toBe(true);
}, 60_000);

test("uploads beyond a connection's share of the request buffers are refused with RESOURCE_EXHAUSTED", async () => {
  const { agent, api } = await agentUnderAttack(SECRET, cleanups);
  const before = rssKiB(agent.process.pid);
  const checker = startChecker(api);
  const raw = await RawH2.handshake(agent.socket);
  cleanups.push(() => raw.close());
  const CALLS = 12;
  const chunk = new Uint8Array(16_000).fill(7);
  for (let call = 0; call < CALLS; call++) {
    const id = 2 * call + 1;
    await raw.write(raw.request(id, ACCOUNTING, [["grpc-timeout", "99999999H"]]), frame(FrameType.Data, 0, id, grpcMessage(new Uint8Array(0), 0, 4 * 1024 * 1024 - 1)));
    // 2 MB of each 4 MiB message: 24 MB in all, beyond the connection's 16 MiB.
    for (let sent = 0; sent < 2_000_000; sent += chunk.length) await raw.write(frame(FrameType.Data, 0, id, chunk));
  }
  expect(await raw.sync()).toBe(true);
  const grown = rssKiB(agent.process.pid) - before;
  const result = await checker.stop();
  const refused = [...raw.answered].length;
  console.log(`uploads: ${CALLS} × 2 MB on one connection, ${refused} refused, agent RSS +${Math.round(grown / 1024)} MiB, checker ${result.ok} ok / ${result.failed} failed`);
  expect(refused).toBeGreaterThanOrEqual(3);
  expect([...raw.answered].every((id) => (raw.resets.get(id) ?? [H2Error.NO_ERROR]).every((code) => code === H2Error.NO_ERROR))).toBe(true);
  expect(successRate(result)).toBeGreaterThanOrEqual(0.95);
}, 60_000);
