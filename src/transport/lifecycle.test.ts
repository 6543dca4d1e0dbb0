import { expect, test } from "bun:test";
import { transition, type Phase, type PhaseEvent } from "./lifecycle";

const edges: [Phase, PhaseEvent, Phase][] = [
  ["connecting", "established", "open"],
  ["connecting", "failed", "closed"],
  ["connecting", "closed", "closed"],
  ["open", "established", "open"],
  ["open", "failed", "closed"],
  ["open", "closed", "closed"],
  ["closed", "established", "closed"],
  ["closed", "failed", "closed"],
  ["closed", "closed", "closed"],
];

test.each(edges)("%s --%s--> %s", (from, event, to) => {
  expect(transition(from, event)).toBe(to);
});
