/** The replay scheduler against a real spool and a scripted delivery, on a manual clock. */
import { afterEach, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { silentLogger } from "../common/log";
import { ManualClock } from "../upstream/manual-clock";
import { FIRST_RETRY_MS, Replayer } from "./replay";
import { Spool, type SpoolEntry } from "./spool";

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

interface Pending {
  n: number;
  answer: (ok: boolean) => void;
}

async function setUp(records: number, window = 4, maxPerSecond = 100_000) {
  const dir = mkdtempSync(join(tmpdir(), "tacacsrs-h15-replay-"));
  dirs.push(dir);
  const clock = new ManualClock();
  const spool = Spool.open({ dir, maxBytes: 1 << 20, clock, log: silentLogger });
  for (let n = 0; n < records; n++) await spool.append({ version: 0xc0, acceptedAt: n, body: new Uint8Array([n]) });
  const pending: Pending[] = [];
  const sent: number[] = [];
  const deliver = (entry: SpoolEntry) =>
    new Promise<boolean>((resolve) => {
      sent.push(entry.acceptedAt);
      pending.push({ n: entry.acceptedAt, answer: resolve });
    });
  const replayer = new Replayer(spool, deliver, { window, maxPerSecond, clock, log: silentLogger });
  const settle = async (ok: boolean) => {
    for (const p of pending.splice(0)) p.answer(ok);
    await Bun.sleep(0);
  };
  return { spool, clock, replayer, pending, sent, settle };
}

describe("replay", () => {
  test("probes, then drains in order within the window; a failure stops new sends and the failed ones go first next time", async () => {
    const { spool, clock, replayer, pending, sent, settle } = await setUp(10);
    replayer.wake();
    clock.advance(0);
    // A probe first: the records were spooled because no server answered.
    expect(sent).toEqual([0]);
    await settle(true);
    expect(sent).toEqual([0, 1, 2, 3, 4]);
    // 1 and 3 delivered, 2 and 4 failed: only 1 is acknowledged (2 is not), nothing new is sent.
    const [one, two, three, four] = pending.splice(0);
    two!.answer(false);
    four!.answer(false);
    one!.answer(true);
    three!.answer(true);
    await Bun.sleep(0);
    expect(sent).toHaveLength(5);
    expect(spool.records).toBe(8);
    expect(replayer.mode).toBe("idle");
    // The retry probes with the first failed record.
    clock.advance(FIRST_RETRY_MS);
    expect(sent.slice(5)).toEqual([2]);
    await settle(true);
    // Draining again: 4 (failed before) first, then new ones; 3 is never sent twice.
    expect(sent.slice(6)).toEqual([4, 5, 6, 7]);
    while (pending.length > 0) await settle(true);
    expect(new Set(sent).size).toBe(10);
    expect(sent.filter((n) => n === 3)).toHaveLength(1);
    expect(spool.records).toBe(0);
    expect(replayer.stats).toEqual({ replayed: 10, replayFailures: 2 });
    await spool.close();
  });

  test("while nothing answers, one record probes with growing backoff; a nudge tries at once", async () => {
    const { spool, clock, replayer, sent, settle } = await setUp(3);
    replayer.wake();
    clock.advance(0);
    await settle(false);
    const times: number[] = [];
    const start = clock.now();
    for (let i = 0; i < 4; i++) {
      const before = sent.length;
      while (sent.length === before) clock.advance(10);
      times.push(clock.now() - start);
      await settle(false);
    }
    expect(sent).toEqual([0, 0, 0, 0, 0]);
    expect(times[1]! - times[0]!).toBeGreaterThan(times[0]!);
    // Live traffic got an answer: drain at once, the whole window.
    replayer.nudge();
    expect(sent.slice(5)).toEqual([0, 1, 2]);
    await settle(true);
    expect(spool.records).toBe(0);
    await spool.close();
  });

  test("the replay rate is bounded: a burst of 2 ms worth, then the rate", async () => {
    const { spool, clock, replayer, sent, settle } = await setUp(500, 500, 1000);
    replayer.wake();
    clock.advance(0);
    await settle(true);
    // The probe took the first token, the burst (2 ms worth) the rest of the bucket.
    expect(sent.length).toBeLessThanOrEqual(11);
    for (let ms = 0; ms < 100; ms++) {
      clock.advance(1);
      await settle(true);
    }
    expect(sent.length).toBeGreaterThanOrEqual(100);
    expect(sent.length).toBeLessThanOrEqual(112);
    expect(new Set(sent).size).toBe(sent.length);
    replayer.close();
    await spool.close();
  });
});
