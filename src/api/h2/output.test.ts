import { expect, test } from "bun:test";
import { EAGER_FLUSH_BYTES, Output, type Sink } from "./output";

/** A sink that takes at most `room` bytes per write (-1: everything). */
function sink(room = -1) {
  const state = { writes: [] as number[][], ended: false, room };
  const target: Sink = {
    write: (bytes) => {
      const taken = state.room < 0 ? bytes.length : Math.min(state.room, bytes.length);
      state.writes.push([...bytes.subarray(0, taken)]);
      return taken;
    },
    end: () => (state.ended = true),
  };
  return { state, target };
}

const ping = (output: Output, byte: number) => output.frames.frame(0x6, 0, 0, new Uint8Array(8).fill(byte));

test("frames of a batch, and frames scheduled in one tick, leave in one write each", async () => {
  const { state, target } = sink();
  const output = new Output(target, () => {});
  output.batch(() => {
    ping(output, 1);
    ping(output, 2);
    output.schedule(); // inside a batch: the batch writes
  });
  expect(state.writes.map((w) => w.length)).toEqual([34]);
  ping(output, 3);
  output.schedule();
  ping(output, 4);
  output.schedule();
  expect(state.writes.length).toBe(1);
  await Promise.resolve();
  expect(state.writes.map((w) => w.length)).toEqual([34, 34]);
});

test("replies scheduled outside a batch leave as soon as EAGER_FLUSH_BYTES collect, the rest at the end of the tick", async () => {
  const { state, target } = sink();
  const output = new Output(target, () => {});
  const frames = Math.ceil(EAGER_FLUSH_BYTES / 17) + 3; // PING frames: 9 + 8 bytes
  for (let i = 0; i < frames; i++) {
    ping(output, i);
    output.schedule();
  }
  const eager = Math.ceil(EAGER_FLUSH_BYTES / 17) * 17;
  expect(state.writes.map((w) => w.length)).toEqual([eager]);
  await Promise.resolve();
  expect(state.writes.map((w) => w.length)).toEqual([eager, frames * 17 - eager]);
  expect(state.writes.flat().filter((_, at) => at % 17 === 9)).toEqual(Array.from({ length: frames }, (_, i) => i));
});

test("what the transport does not take waits for drain, in order", () => {
  const { state, target } = sink(10);
  const output = new Output(target, () => {});
  output.batch(() => ping(output, 1));
  output.batch(() => ping(output, 2)); // queued behind the pending rest, not written
  expect(state.writes.map((w) => w.length)).toEqual([10]);
  state.room = -1;
  output.drain();
  const all = state.writes.flat();
  expect(all.length).toBe(34);
  expect(all.slice(9, 17)).toEqual(new Array(8).fill(1));
  expect(all.slice(26)).toEqual(new Array(8).fill(2));
});

test("a peer that never reads is cut off beyond 16 MiB of pending output", () => {
  const { state, target } = sink(0);
  let overflowed = false;
  const output = new Output(target, () => (overflowed = true));
  for (let i = 0; i < 1100 && !overflowed; i++) output.batch(() => output.frames.frame(0x0, 0, 1, new Uint8Array(16_384)));
  expect(overflowed).toBe(true);
  expect(state.ended).toBe(true);
  const writes = state.writes.length;
  output.batch(() => ping(output, 1));
  expect(state.writes.length).toBe(writes);
});

test("end flushes then closes; after discard nothing is written", () => {
  const { state, target } = sink();
  const output = new Output(target, () => {});
  ping(output, 1);
  output.end();
  expect([state.writes.length, state.ended]).toEqual([1, true]);
  const other = sink();
  const discarded = new Output(other.target, () => {});
  discarded.discard();
  discarded.batch(() => ping(discarded, 1));
  expect(other.state.writes).toEqual([]);
});
