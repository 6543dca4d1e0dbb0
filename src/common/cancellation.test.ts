import { expect, test } from "bun:test";
import { Cancellation } from "./cancellation";

test("cancel runs the current listener once, with the first reason", () => {
  const cancellation = new Cancellation();
  const seen: string[] = [];
  cancellation.onCancel((reason) => seen.push(`first ${reason.message}`));
  cancellation.onCancel((reason) => seen.push(`second ${reason.message}`)); // replaces the first
  expect(cancellation.cancelled).toBe(false);
  cancellation.cancel(new Error("left"));
  cancellation.cancel(new Error("again"));
  expect(seen).toEqual(["second left"]);
  expect(cancellation.cancelled).toBe(true);
  expect(cancellation.reason?.message).toBe("left");
});

test("off removes only the listener it is given", () => {
  const cancellation = new Cancellation();
  const seen: string[] = [];
  const stale = () => seen.push("stale");
  const current = () => seen.push("current");
  cancellation.onCancel(stale);
  cancellation.onCancel(current);
  cancellation.off(stale); // an earlier exchange settling late must not remove the current listener
  cancellation.cancel(new Error("x"));
  expect(seen).toEqual(["current"]);
  const quiet = new Cancellation();
  quiet.onCancel(current);
  quiet.off(current);
  quiet.cancel(new Error("y"));
  expect(seen).toEqual(["current"]);
});
