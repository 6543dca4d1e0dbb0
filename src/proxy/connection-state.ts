/**
 * The life of one downstream proxy connection as an explicit state machine.
 * One connection carries exactly one TACACS+ session (no downstream single-connect), so the
 * machine only ever moves forward: wait for START → upstream → reply → (CONTINUE …) → closed.
 * Pure: no I/O and no timers; `ConnectionBridge` performs the effects.
 */
import { AuthenStatus, PacketType } from "../protocol";

/** seq_no is one octet; a session must never wrap it (RFC 8907 §4.1). */
const MAX_SEQ_NO = 255;

/** The downstream session as established by its first packet. */
export interface DownstreamSession {
  sessionId: number;
  type: PacketType;
  version: number;
}

export type ConnectionState =
  | { name: "AwaitingStart" }
  /**
   * The first packet went to the engine; `seqNo` is the client's (odd) seq_no. `peerEnded`: the
   * client half-closed after sending (it still reads the reply but can answer no challenge).
   */
  | { name: "Starting"; session: DownstreamSession; seqNo: number; peerEnded: boolean }
  /** An authentication challenge (GETDATA/GETUSER/GETPASS) was sent with seq_no `lastSeqNo`. */
  | { name: "AwaitingContinue"; session: DownstreamSession; lastSeqNo: number }
  | { name: "Continuing"; session: DownstreamSession; seqNo: number; peerEnded: boolean }
  | { name: "Closed"; reason: CloseReason };

export type CloseReason =
  | "done"
  | "peer-closed"
  | "idle-timeout"
  | "garbage"
  | "protocol-violation"
  | "upstream-failed"
  | "internal-error"
  | "shutdown";

/** A packet from the client, header fields only (the body was already checked by the codec). */
export interface PacketEvent {
  kind: "packet";
  type: PacketType;
  version: number;
  seqNo: number;
  sessionId: number;
}

export type ConnectionEvent =
  | PacketEvent
  /** The upstream reply to the packet in flight; `status` is the reply body's status field. */
  | { kind: "reply"; status: number }
  | { kind: "upstream-failed" }
  | { kind: "garbage" }
  /** A defect in the proxy while handling this connection (logged as an error by the bridge). */
  | { kind: "internal-error" }
  | { kind: "idle-timeout" }
  /** The client finished sending (TCP FIN) but may still read. */
  | { kind: "peer-ended" }
  | { kind: "peer-closed" }
  | { kind: "shutdown" };

/** What the bridge must do after a transition. */
export type Effect =
  | { kind: "start-upstream"; session: DownstreamSession; seqNo: number }
  | { kind: "continue-upstream"; seqNo: number }
  /** Forward the reply with seq_no `seqNo`; `close` when the session ends with it. */
  | { kind: "send-reply"; seqNo: number; close: boolean }
  /** Send a locally generated ERROR reply of the session's type with seq_no `seqNo`, then close. */
  | { kind: "send-error"; seqNo: number }
  | { kind: "close" }
  | { kind: "none" };

export interface Transition {
  state: ConnectionState;
  effect: Effect;
}

export const initialState: ConnectionState = { name: "AwaitingStart" };

/** Challenge statuses keep an authentication session open (RFC 8907 §5.4.2); all others end it. */
const CHALLENGES: ReadonlySet<number> = new Set([AuthenStatus.GetData, AuthenStatus.GetUser, AuthenStatus.GetPass]);

function closed(reason: CloseReason, effect: Effect = { kind: "close" }): Transition {
  return { state: { name: "Closed", reason }, effect };
}

/** Why a packet is refused in the given state, or undefined when it is acceptable. */
export function packetViolation(state: ConnectionState, packet: PacketEvent): string | undefined {
  switch (state.name) {
    case "AwaitingStart":
      // §4.1: the first packet of a session carries seq_no 1.
      return packet.seqNo === 1 ? undefined : `first packet has seq_no ${packet.seqNo}, expected 1`;
    case "AwaitingContinue":
      if (packet.sessionId !== state.session.sessionId) return "packet switches to a different session id";
      if (packet.type !== PacketType.Authentication) return "non-authentication packet inside an authentication session";
      if (packet.seqNo !== state.lastSeqNo + 1) return `seq_no ${packet.seqNo}, expected ${state.lastSeqNo + 1}`;
      return undefined;
    case "Starting":
    case "Continuing":
      return "packet sent before the reply to the previous one";
    case "Closed":
      return "packet after close";
  }
}

export function transition(state: ConnectionState, event: ConnectionEvent): Transition {
  if (state.name === "Closed") return { state, effect: { kind: "none" } };
  switch (event.kind) {
    case "packet": {
      if (packetViolation(state, event) !== undefined) return closed("protocol-violation");
      if (state.name === "AwaitingStart") {
        const session = { sessionId: event.sessionId, type: event.type, version: event.version };
        return {
          state: { name: "Starting", session, seqNo: event.seqNo, peerEnded: false },
          effect: { kind: "start-upstream", session, seqNo: event.seqNo },
        };
      }
      if (state.name !== "AwaitingContinue") return closed("protocol-violation");
      return {
        state: { name: "Continuing", session: state.session, seqNo: event.seqNo, peerEnded: false },
        effect: { kind: "continue-upstream", seqNo: event.seqNo },
      };
    }
    case "reply": {
      if (state.name !== "Starting" && state.name !== "Continuing") return closed("protocol-violation");
      const seqNo = state.seqNo + 1;
      // Authorization and accounting end after one reply; authentication only on a non-challenge
      // status (FOLLOW and RESTART included, §5.4.2). A challenge at seq_no 254 cannot be answered
      // without wrapping, and a client that half-closed cannot answer: the session ends there too.
      const challenge = state.session.type === PacketType.Authentication && CHALLENGES.has(event.status);
      if (!challenge || seqNo + 1 >= MAX_SEQ_NO || state.peerEnded) return closed("done", { kind: "send-reply", seqNo, close: true });
      return {
        state: { name: "AwaitingContinue", session: state.session, lastSeqNo: seqNo },
        effect: { kind: "send-reply", seqNo, close: false },
      };
    }
    case "upstream-failed":
      if (state.name !== "Starting" && state.name !== "Continuing") return closed("upstream-failed");
      return closed("upstream-failed", { kind: "send-error", seqNo: state.seqNo + 1 });
    case "garbage":
      return closed("garbage");
    case "internal-error":
      return closed("internal-error");
    case "idle-timeout":
      return closed("idle-timeout");
    case "peer-ended":
      // A request in flight is still answered; waiting for a packet that cannot come is pointless.
      if (state.name === "Starting" || state.name === "Continuing") return { state: { ...state, peerEnded: true }, effect: { kind: "none" } };
      return closed("peer-closed");
    case "peer-closed":
      return closed("peer-closed");
    case "shutdown":
      // A request in flight still gets its one outcome: an ERROR reply, as when no upstream answers.
      if (state.name === "Starting" || state.name === "Continuing") return closed("shutdown", { kind: "send-error", seqNo: state.seqNo + 1 });
      return closed("shutdown");
  }
}
