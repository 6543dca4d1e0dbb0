import { describe, expect, test } from "bun:test";
import { describeFailoverState, initialFailoverState, startIndex, transition, type FailoverState } from "./failover";

const preferred: FailoverState = { name: "PreferredActive" };
const failedOver = (server: number): FailoverState => ({ name: "FailedOver", server });
const none = (lastTried: number): FailoverState => ({ name: "NoResponsiveServer", lastTried });

describe("failover transitions (3 servers)", () => {
  const cases: [string, FailoverState, Parameters<typeof transition>[1], FailoverState][] = [
    ["preferred fails → first backup", preferred, { type: "server-failed", server: 0 }, failedOver(1)],
    ["stale backup failure while preferred is active", preferred, { type: "server-failed", server: 1 }, preferred],
    ["preferred answers", preferred, { type: "server-answered", server: 0 }, preferred],
    ["probe while preferred is active", preferred, { type: "probe-succeeded" }, preferred],
    ["active backup fails → next backup", failedOver(1), { type: "server-failed", server: 1 }, failedOver(2)],
    ["last backup fails → nothing responsive", failedOver(2), { type: "server-failed", server: 2 }, none(2)],
    ["stale failure of the preferred while failed over", failedOver(2), { type: "server-failed", server: 0 }, failedOver(2)],
    ["backup answers", failedOver(1), { type: "server-answered", server: 1 }, failedOver(1)],
    ["probe succeeds → back to preferred", failedOver(2), { type: "probe-succeeded" }, preferred],
    ["failures while nothing responsive", none(2), { type: "server-failed", server: 0 }, none(2)],
    ["preferred answers again", none(2), { type: "server-answered", server: 0 }, preferred],
    ["a backup answers again", none(2), { type: "server-answered", server: 1 }, failedOver(1)],
    ["probe succeeds while nothing responsive", none(2), { type: "probe-succeeded" }, preferred],
  ];
  for (const [name, from, event, to] of cases) {
    test(name, () => expect(transition(from, event, 3)).toEqual(to));
  }
});

test("a single server goes straight to NoResponsiveServer", () => {
  expect(transition(initialFailoverState, { type: "server-failed", server: 0 }, 1)).toEqual(none(0));
});

test("requests start at the active server, or at server 0 when nothing responds", () => {
  expect(startIndex(preferred)).toBe(0);
  expect(startIndex(failedOver(2))).toBe(2);
  expect(startIndex(none(2))).toBe(0);
});

test("descriptions name the server", () => {
  const name = (i: number) => `srv${i}`;
  expect(describeFailoverState(preferred, name)).toBe("PreferredActive (srv0)");
  expect(describeFailoverState(failedOver(1), name)).toBe("FailedOver (srv1)");
  expect(describeFailoverState(none(2), name)).toBe("NoResponsiveServer (last tried srv2)");
});
