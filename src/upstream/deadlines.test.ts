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

test("entries outlive the compaction of the holes deleted ones leave, in any order", () => {
  const clock = new ManualClock(0);
  const expired: number[] = [];
  const sweeper = new DeadlineSweeper<{ deadline: number }>(clock, (e) => expired.push(e.deadline));
  const entries = Array.from({ length: 1000 }, (_, i) => ({ deadline: 5000 - i }));
  for (const entry of entries) sweeper.add(entry);
  sweeper.add(entries[0]!); // already there: no second copy
  for (let i = 0; i < 1000; i++) {
    const entry = entries[(i * 389) % 1000]!; // every entry once, scattered
    if (entry.deadline % 7 !== 0) sweeper.delete(entry);
  }
  sweeper.delete(entries[1]!); // deleted twice: no effect
  const kept = entries.filter((e) => e.deadline % 7 === 0).map((e) => e.deadline);
  expect(sweeper.size).toBe(kept.length);
  sweeper.add(entries[1]!);
  clock.advance(5000);
  expect(expired.toSorted((a, b) => a - b)).toEqual([...kept, entries[1]!.deadline].toSorted((a, b) => a - b));
  expect(sweeper.size).toBe(0);
});
