import { expect, test } from "bun:test";
import { TaskTracker } from "./tasks";

const started = (name: string) => Promise.resolve({ command: name });

test("a pid's command ends at its exit or at its next exec; unknown pids have none", async () => {
  const tasks = new TaskTracker();
  expect(tasks.start(10, started("setpriv"))).toBeUndefined();
  expect(await tasks.start(10, started("sh"))).toEqual({ command: "setpriv" });
  expect(await tasks.end(10)).toEqual({ command: "sh" });
  expect(tasks.end(10)).toBeUndefined();
  expect(tasks.end(11)).toBeUndefined();
});

test("bounded: the oldest command is forgotten and counted", () => {
  const tasks = new TaskTracker(2);
  tasks.start(1, started("a"));
  tasks.start(2, started("b"));
  tasks.start(3, started("c"));
  expect(tasks.size).toBe(2);
  expect(tasks.evicted).toBe(1);
  expect(tasks.end(1)).toBeUndefined();
});
