import { expect, test } from "bun:test";
import { localOpen, remoteOpen, transition, type StreamEvent, type StreamState } from "./stream-state";

test("every edge of the server stream state machine (RFC 9113 §5.1)", () => {
  const states: StreamState[] = ["open", "half-closed-remote", "half-closed-local", "closed"];
  const events: StreamEvent[] = ["recv-end-stream", "send-end-stream", "reset"];
  const table = Object.fromEntries(states.map((state) => [state, events.map((event) => transition(state, event) ?? "error")]));
  expect(table).toEqual({
    open: ["half-closed-remote", "half-closed-local", "closed"],
    "half-closed-remote": ["error", "closed", "closed"],
    "half-closed-local": ["closed", "error", "closed"],
    closed: ["error", "error", "closed"],
  });
  expect(states.map(remoteOpen)).toEqual([true, false, true, false]);
  expect(states.map(localOpen)).toEqual([true, true, false, false]);
});
