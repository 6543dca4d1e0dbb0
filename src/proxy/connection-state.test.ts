import { describe, expect, test } from "bun:test";
import { AcctStatus, AuthenStatus, AuthorStatus, PacketType } from "../protocol";
import { initialState, packetViolation, transition, type ConnectionEvent, type ConnectionState, type PacketEvent } from "./connection-state";

const SESSION = 0x1234abcd;

function packet(overrides: Partial<PacketEvent> = {}): PacketEvent {
  return { kind: "packet", type: PacketType.Authentication, version: 0xc0, seqNo: 1, sessionId: SESSION, ...overrides };
}

/** Walks events from the initial state, returning every transition. */
function walk(...events: ConnectionEvent[]) {
  let state: ConnectionState = initialState;
  return events.map((event) => {
    const result = transition(state, event);
    state = result.state;
    return result;
  });
}

const starting = (type = PacketType.Authentication) => walk(packet({ type }))[0]!.state;
const awaitingContinue = () => walk(packet(), { kind: "reply", status: AuthenStatus.GetPass })[1]!.state;
const continuing = () => walk(packet(), { kind: "reply", status: AuthenStatus.GetPass }, packet({ seqNo: 3 }))[2]!.state;

describe("AwaitingStart", () => {
  test("a first packet with seq_no 1 starts the upstream session", () => {
    const { state, effect } = transition(initialState, packet({ type: PacketType.Authorization, version: 0xc1 }));
    expect(state).toEqual({ name: "Starting", session: { sessionId: SESSION, type: PacketType.Authorization, version: 0xc1 }, seqNo: 1, peerEnded: false });
    expect(effect).toEqual({ kind: "start-upstream", session: { sessionId: SESSION, type: PacketType.Authorization, version: 0xc1 }, seqNo: 1 });
  });

  test("a first packet with another seq_no closes", () => {
    expect(packetViolation(initialState, packet({ seqNo: 3 }))).toContain("expected 1");
    expect(transition(initialState, packet({ seqNo: 3 }))).toEqual({ state: { name: "Closed", reason: "protocol-violation" }, effect: { kind: "close" } });
  });

  test.each([
    [{ kind: "garbage" }, "garbage"],
    [{ kind: "internal-error" }, "internal-error"],
    [{ kind: "idle-timeout" }, "idle-timeout"],
    [{ kind: "peer-closed" }, "peer-closed"],
    [{ kind: "peer-ended" }, "peer-closed"],
    [{ kind: "shutdown" }, "shutdown"],
    [{ kind: "upstream-failed" }, "upstream-failed"],
  ] as const)("%o closes without a reply", (event, reason) => {
    expect(transition(initialState, event)).toEqual({ state: { name: "Closed", reason }, effect: { kind: "close" } });
  });

  test("a reply without a request in flight is a protocol violation", () => {
    expect(transition(initialState, { kind: "reply", status: 1 }).state).toEqual({ name: "Closed", reason: "protocol-violation" });
  });
});

describe("Starting", () => {
  test.each([
    [PacketType.Authorization, AuthorStatus.PassAdd],
    [PacketType.Authorization, AuthorStatus.Follow],
    [PacketType.Accounting, AcctStatus.Success],
    [PacketType.Accounting, AcctStatus.Error],
    [PacketType.Authentication, AuthenStatus.Pass],
    [PacketType.Authentication, AuthenStatus.Fail],
    [PacketType.Authentication, AuthenStatus.Restart],
    [PacketType.Authentication, AuthenStatus.Follow],
    [PacketType.Authentication, AuthenStatus.Error],
  ])("type %d status %d: reply with seq_no 2 and close", (type, status) => {
    const { state, effect } = transition(starting(type), { kind: "reply", status });
    expect(state).toEqual({ name: "Closed", reason: "done" });
    expect(effect).toEqual({ kind: "send-reply", seqNo: 2, close: true });
  });

  test("authorization GETPASS-valued status (0x05) still closes: only authentication has challenges", () => {
    const { effect } = transition(starting(PacketType.Authorization), { kind: "reply", status: AuthenStatus.GetPass });
    expect(effect).toEqual({ kind: "send-reply", seqNo: 2, close: true });
  });

  test.each([AuthenStatus.GetData, AuthenStatus.GetUser, AuthenStatus.GetPass])("authentication challenge %d keeps the session", (status) => {
    const { state, effect } = transition(starting(), { kind: "reply", status });
    expect(state).toEqual({ name: "AwaitingContinue", session: { sessionId: SESSION, type: PacketType.Authentication, version: 0xc0 }, lastSeqNo: 2 });
    expect(effect).toEqual({ kind: "send-reply", seqNo: 2, close: false });
  });

  test("upstream failure sends an ERROR reply with seq_no + 1", () => {
    expect(transition(starting(), { kind: "upstream-failed" })).toEqual({
      state: { name: "Closed", reason: "upstream-failed" },
      effect: { kind: "send-error", seqNo: 2 },
    });
  });

  test("shutdown with a request in flight answers it with ERROR (seq_no + 1), then closes", () => {
    expect(transition(starting(), { kind: "shutdown" })).toEqual({ state: { name: "Closed", reason: "shutdown" }, effect: { kind: "send-error", seqNo: 2 } });
    expect(transition(continuing(), { kind: "shutdown" }).effect).toEqual({ kind: "send-error", seqNo: 4 });
  });

  test("a packet before the reply closes", () => {
    expect(packetViolation(starting(), packet({ seqNo: 3 }))).toContain("before the reply");
    expect(transition(starting(), packet({ seqNo: 3 })).state).toEqual({ name: "Closed", reason: "protocol-violation" });
  });

  test("the client closing mid-request closes (the upstream session is ended by the bridge)", () => {
    expect(transition(starting(), { kind: "peer-closed" })).toEqual({ state: { name: "Closed", reason: "peer-closed" }, effect: { kind: "close" } });
  });

  test("a half-close (FIN) mid-request keeps waiting for the reply, which then ends the session even if a challenge", () => {
    const ended = transition(starting(), { kind: "peer-ended" });
    expect(ended).toEqual({ state: { ...(starting() as object), peerEnded: true } as ConnectionState, effect: { kind: "none" } });
    expect(transition(ended.state, { kind: "reply", status: AuthenStatus.GetPass })).toEqual({
      state: { name: "Closed", reason: "done" },
      effect: { kind: "send-reply", seqNo: 2, close: true },
    });
  });
});

describe("AwaitingContinue", () => {
  test("CONTINUE with the next odd seq_no goes upstream", () => {
    const { state, effect } = transition(awaitingContinue(), packet({ seqNo: 3 }));
    expect(state).toMatchObject({ name: "Continuing", seqNo: 3 });
    expect(effect).toEqual({ kind: "continue-upstream", seqNo: 3 });
  });

  test.each([
    [packet({ seqNo: 5 }), "expected 3"],
    [packet({ seqNo: 1 }), "expected 3"],
    [packet({ seqNo: 3, sessionId: SESSION + 1 }), "different session id"],
    [packet({ seqNo: 3, type: PacketType.Authorization }), "non-authentication"],
  ])("%o closes the connection", (event, why) => {
    expect(packetViolation(awaitingContinue(), event)).toContain(why);
    expect(transition(awaitingContinue(), event)).toEqual({ state: { name: "Closed", reason: "protocol-violation" }, effect: { kind: "close" } });
  });

  test("idle timeout closes", () => {
    expect(transition(awaitingContinue(), { kind: "idle-timeout" }).state).toEqual({ name: "Closed", reason: "idle-timeout" });
  });

  test("a half-close while a CONTINUE is due closes: it can never arrive", () => {
    expect(transition(awaitingContinue(), { kind: "peer-ended" })).toEqual({ state: { name: "Closed", reason: "peer-closed" }, effect: { kind: "close" } });
  });
});

describe("Continuing", () => {
  test("a terminal reply is sent with seq_no 4 and closes", () => {
    expect(transition(continuing(), { kind: "reply", status: AuthenStatus.Pass })).toEqual({
      state: { name: "Closed", reason: "done" },
      effect: { kind: "send-reply", seqNo: 4, close: true },
    });
  });

  test("another challenge waits for the CONTINUE with seq_no 5", () => {
    const { state } = transition(continuing(), { kind: "reply", status: AuthenStatus.GetData });
    expect(state).toMatchObject({ name: "AwaitingContinue", lastSeqNo: 4 });
  });

  test("a half-close mid-CONTINUE still gets the reply", () => {
    const ended = transition(continuing(), { kind: "peer-ended" });
    expect(ended.state).toMatchObject({ name: "Continuing", peerEnded: true });
    expect(transition(ended.state, { kind: "reply", status: AuthenStatus.Pass }).effect).toEqual({ kind: "send-reply", seqNo: 4, close: true });
  });

  test("upstream failure sends an authentication ERROR with seq_no 4", () => {
    expect(transition(continuing(), { kind: "upstream-failed" }).effect).toEqual({ kind: "send-error", seqNo: 4 });
  });

  test("a challenge that would need seq_no 256 ends the session instead (no wrap, RFC 8907 §4.1)", () => {
    const state: ConnectionState = { name: "Continuing", session: { sessionId: SESSION, type: PacketType.Authentication, version: 0xc0 }, seqNo: 253, peerEnded: false };
    expect(transition(state, { kind: "reply", status: AuthenStatus.GetData }).effect).toEqual({ kind: "send-reply", seqNo: 254, close: true });
    const earlier = { ...state, seqNo: 251 };
    expect(transition(earlier, { kind: "reply", status: AuthenStatus.GetData }).effect).toEqual({ kind: "send-reply", seqNo: 252, close: false });
  });
});

test("Closed absorbs every event without effects", () => {
  const closed: ConnectionState = { name: "Closed", reason: "done" };
  for (const event of [packet(), { kind: "reply", status: 1 }, { kind: "shutdown" }] as ConnectionEvent[]) {
    expect(transition(closed, event)).toEqual({ state: closed, effect: { kind: "none" } });
  }
  expect(packetViolation(closed, packet())).toBe("packet after close");
});
