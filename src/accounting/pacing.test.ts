/** The replay's delay-based window, walked without sockets. */
import { describe, expect, test } from "bun:test";
import { BASE_PERIOD_MS, delivered, failed, initialPacing, windowOf, type Pacing } from "./pacing";

const limits = { maxWindow: 64, targetDelayMs: 2 };

/** One round trip's worth of acknowledgements (a full window), each after `rttMs`. */
function roundTrip(pacing: Pacing, rttMs: number, now: number): Pacing {
  for (let n = windowOf(pacing); n > 0; n--) pacing = delivered(pacing, rttMs, now, limits);
  return pacing;
}

describe("replay pacing", () => {
  test("without queuing delay the window grows by about one record per round trip, up to its bound", () => {
    let pacing = initialPacing(0);
    expect(windowOf(pacing)).toBe(1);
    for (let trip = 0; trip < 10; trip++) pacing = roundTrip(pacing, 1, trip);
    expect(windowOf(pacing)).toBeGreaterThanOrEqual(9);
    expect(windowOf(pacing)).toBeLessThanOrEqual(12);
    for (let trip = 10; trip < 200; trip++) pacing = roundTrip(pacing, 1, trip);
    expect(windowOf(pacing)).toBe(64);
  });

  test("round trips above the base by more than the target shrink the window, never below one record", () => {
    let pacing = initialPacing(0);
    for (let trip = 0; trip < 200; trip++) pacing = roundTrip(pacing, 1, trip);
    // Queuing of 1 ms (below the 2 ms target): the window stays at its bound.
    for (let trip = 0; trip < 50; trip++) pacing = roundTrip(pacing, 2, 200 + trip);
    expect(windowOf(pacing)).toBe(64);
    // Live traffic queues up: 9 ms above the base.
    const shrinking: number[] = [];
    for (let trip = 0; trip < 40; trip++) {
      pacing = roundTrip(pacing, 10, 300 + trip);
      shrinking.push(windowOf(pacing));
    }
    expect(shrinking[3]!).toBeLessThan(32);
    expect(shrinking.at(-1)).toBe(1);
  });

  test("the base forgets round trips older than two periods, so a slower path is not mistaken for a queue forever", () => {
    let pacing = delivered(initialPacing(0), 1, 0, limits);
    pacing = delivered(pacing, 20, BASE_PERIOD_MS, limits);
    expect(pacing.baseMs).toBe(1);
    pacing = delivered(pacing, 20, 2 * BASE_PERIOD_MS, limits);
    expect(pacing.baseMs).toBe(20);
  });

  test("a failure starts again from one record", () => {
    let pacing = initialPacing(0);
    for (let trip = 0; trip < 100; trip++) pacing = roundTrip(pacing, 1, trip);
    expect(windowOf(failed(pacing))).toBe(1);
  });
});
