/** The replay scheduler against a real spool and a scripted delivery, on a manual clock. */
import { afterEach, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { silentLogger } from "../common/log";
import { ManualClock } from "../upstream/manual-clock";
import { FIRST_RETRY_MS, LIVE_RECENT_MS, Replayer } from "./replay";
import { Spool, type SpoolEntry } from "./spool";

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

interface Pending {
  n: number;
  answer: (ok: boolean) => void;
}

async function setUp(records: number, maxWindow = 4, targetDelayMs = 2, livePerSecond = 1_000_000) {
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
  const replayer = new Replayer(spool, deliver, { maxWindow, targetDelayMs, livePerSecond, clock, roundTripClock: () => clock.now(), log: silentLogger });
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
    // An answer without delay: the window grows from 1 to 2.
    expect(sent).toEqual([0, 1, 2]);
    expect(replayer.stats.replayWindow).toBe(2);
    // 2 delivered, 1 failed: nothing is acknowledged (1 is not), nothing new is sent.
    const [one, two] = pending.splice(0);
    one!.answer(false);
    two!.answer(true);
    await Bun.sleep(0);
    expect(sent).toHaveLength(3);
    expect(spool.records).toBe(9);
    expect(replayer.mode).toBe("idle");
    // The retry probes with the failed record, then drains the rest; 2 is never sent twice.
    clock.advance(FIRST_RETRY_MS);
    expect(sent.slice(3)).toEqual([1]);
    await settle(true);
    expect(spool.records).toBe(7);
    while (pending.length > 0) await settle(true);
    expect(sent.slice(4)).toEqual([3, 4, 5, 6, 7, 8, 9]);
    expect(spool.records).toBe(0);
    expect(replayer.stats).toEqual({ replayed: 10, replayFailures: 1, replayWindow: 0 });
    await spool.close();
  });

  test("while nothing answers, one record probes with growing backoff; a nudge tries at once", async () => {
    const { spool, clock, replayer, pending, sent, settle } = await setUp(3);
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
    // Live traffic got an answer: drain at once (the window starts again from one record).
    replayer.nudge();
    expect(sent.slice(5)).toEqual([0]);
    while (pending.length > 0) await settle(true);
    expect(sent.slice(5)).toEqual([0, 1, 2]);
    expect(spool.records).toBe(0);
    await spool.close();
  });

  test("the window grows while answers come back at once, up to its bound, and shrinks when they wait", async () => {
    const { spool, clock, replayer, pending, sent, settle } = await setUp(600, 16);
    replayer.wake();
    clock.advance(0);
    const inFlight: number[] = [];
    while (sent.length < 300) {
      inFlight.push(pending.length);
      await settle(true);
    }
    expect(Math.max(...inFlight)).toBe(16);
    // Every answer now takes 10 ms more than the base: the window falls back to 1.
    for (let turn = 0; turn < 100; turn++) {
      clock.advance(10);
      inFlight.push(pending.length);
      await settle(true);
    }
    expect(inFlight.at(-1)).toBe(1);
    expect(new Set(sent).size).toBe(sent.length);
    replayer.close();
    await spool.close();
  });

  test("while live traffic is answered the replay keeps to the live rate; once the live path is quiet it goes by the window alone", async () => {
    const { spool, clock, replayer, pending, sent, settle } = await setUp(600, 16, 2, 1000);
    replayer.wake();
    clock.advance(0);
    await settle(true);
    replayer.nudge();
    const start = sent.length;
    for (let ms = 0; ms < 100; ms++) {
      clock.advance(1);
      await settle(true);
    }
    // 1,000/s for 100 ms, plus the bucket's burst.
    expect(sent.length - start).toBeGreaterThanOrEqual(95);
    expect(sent.length - start).toBeLessThanOrEqual(110);
    // No live answer for LIVE_RECENT_MS: the window alone paces. No time passes below, in which
    // the live rate would allow its burst (2 records) only.
    clock.advance(LIVE_RECENT_MS);
    const quiet = sent.length;
    for (let turn = 0; turn < 20 && pending.length > 0; turn++) await settle(true);
    expect(sent.length - quiet).toBeGreaterThan(20);
    expect(new Set(sent).size).toBe(sent.length);
    replayer.close();
    await spool.close();
  });

  test("pause: no new sends, what is in flight settles and is acknowledged; resume goes on from there, none twice", async () => {
    const { spool, clock, replayer, pending, sent, settle } = await setUp(6);
    replayer.wake();
    clock.advance(0);
    await settle(true);
    expect(sent).toEqual([0, 1, 2]);
    replayer.pause();
    await settle(true);
    clock.advance(10_000);
    expect(sent).toEqual([0, 1, 2]);
    expect(spool.records).toBe(3);
    replayer.nudge();
    replayer.wake();
    clock.advance(10_000);
    expect(sent).toHaveLength(3);
    replayer.resume();
    clock.advance(0);
    while (pending.length > 0) await settle(true);
    expect(sent).toEqual([0, 1, 2, 3, 4, 5]);
    expect(spool.records).toBe(0);
    await spool.close();
  });
});
