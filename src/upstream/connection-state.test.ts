import { expect, test } from "bun:test";
import { acceptsSessions, IllegalTransition, transition, type ConnectionEvent, type ConnectionState } from "./connection-state";

const s = (name: Exclude<ConnectionState["name"], "Closed">): ConnectionState => ({ name }) as ConnectionState;
const closed: ConnectionState = { name: "Closed", reason: "peer closed" };
const close: ConnectionEvent = { type: "closed", reason: "peer closed" };

const legal: [ConnectionState, ConnectionEvent, ConnectionState][] = [
  [s("Connecting"), { type: "connected" }, s("Ready")],
  [s("Ready"), { type: "session-started", offerSingleConnect: true }, s("Negotiating")],
  [s("Ready"), { type: "session-started", offerSingleConnect: false }, s("PerSession")],
  [s("Negotiating"), { type: "first-reply", singleConnect: true }, s("Multiplexing")],
  [s("Negotiating"), { type: "first-reply", singleConnect: false }, s("PerSession")],
  [s("Multiplexing"), { type: "session-started", offerSingleConnect: true }, s("Multiplexing")],
  [s("Connecting"), close, closed],
  [s("Ready"), close, closed],
  [s("Negotiating"), close, closed],
  [s("Multiplexing"), close, closed],
  [s("PerSession"), close, closed],
  [closed, { type: "closed", reason: "again" }, closed],
];
for (const [from, event, to] of legal) {
  test(`${from.name} + ${event.type} → ${to.name}`, () => expect(transition(from, event)).toEqual(to));
}

const illegal: [ConnectionState, ConnectionEvent][] = [
  [s("Connecting"), { type: "session-started", offerSingleConnect: true }],
  [s("Ready"), { type: "first-reply", singleConnect: true }],
  [s("Negotiating"), { type: "session-started", offerSingleConnect: true }],
  [s("Multiplexing"), { type: "first-reply", singleConnect: true }],
  [s("PerSession"), { type: "session-started", offerSingleConnect: false }],
  [closed, { type: "connected" }],
];
for (const [from, event] of illegal) {
  test(`${from.name} + ${event.type} is illegal`, () => expect(() => transition(from, event)).toThrow(IllegalTransition));
}

test("only Ready and Multiplexing connections accept new sessions", () => {
  const all: ConnectionState[] = [s("Connecting"), s("Ready"), s("Negotiating"), s("Multiplexing"), s("PerSession"), closed];
  expect(all.filter(acceptsSessions).map((x) => x.name)).toEqual(["Ready", "Multiplexing"]);
});
