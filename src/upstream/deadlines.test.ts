import { expect, test } from "bun:test";
import { DeadlineSweeper } from "./deadlines";
import { ManualClock } from "./manual-clock";

test("entries expire at their deadline, not before", () => {
  const clock = new ManualClock(0);
  const expired: string[] = [];
  const sweeper = new DeadlineSweeper<{ deadline: number; name: string }>(clock, (e) => expired.push(e.name));
  sweeper.add({ deadline: 100, name: "a" });
  sweeper.add({ deadline: 300, name: "b" });
  sweeper.add({ deadline: 50, name: "c" });
  clock.advance(49);
  expect(expired).toEqual([]);
  clock.advance(1);
  expect(expired).toEqual(["c"]);
  clock.advance(50);
  expect(expired).toEqual(["c", "a"]);
  clock.advance(200);
  expect(expired).toEqual(["c", "a", "b"]);
  expect(sweeper.size).toBe(0);
});

test("a deleted entry never expires and one timer serves many entries", () => {
  const clock = new ManualClock(0);
  const expired: number[] = [];
  const sweeper = new DeadlineSweeper<{ deadline: number }>(clock, (e) => expired.push(e.deadline));
  const entries = Array.from({ length: 100 }, (_, i) => ({ deadline: 1000 + i }));
  for (const entry of entries) sweeper.add(entry);
  expect(clock.pendingTimers).toBe(1);
  for (const entry of entries.slice(0, 99)) sweeper.delete(entry);
  clock.advance(2000);
  expect(expired).toEqual([1099]);
});

test("an entry added by an expiry callback is still swept", () => {
  const clock = new ManualClock(0);
  const expired: number[] = [];
  const sweeper: DeadlineSweeper<{ deadline: number }> = new DeadlineSweeper(clock, (e) => {
    expired.push(e.deadline);
    if (e.deadline === 10) sweeper.add({ deadline: 15 });
  });
  sweeper.add({ deadline: 10 });
  sweeper.add({ deadline: 40 });
  clock.advance(100);
  expect(expired).toEqual([10, 15, 40]);
});

test("clear stops the timer", () => {
  const clock = new ManualClock(0);
  const sweeper = new DeadlineSweeper<{ deadline: number }>(clock, () => {
    throw new Error("must not expire");
  });
  sweeper.add({ deadline: 10 });
  sweeper.clear();
  expect(clock.pendingTimers).toBe(0);
  clock.advance(100);
});
