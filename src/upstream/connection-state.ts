/**
 * Life of one upstream connection, with single-connect negotiation (RFC 8907 §4.3):
 *
 *   Connecting ─connected─▶ Ready ─session-started(offer)─▶ Negotiating ─first-reply(flag)─▶ Multiplexing
 *                                 │                                    └─first-reply(no flag)─▶ PerSession
 *                                 └─session-started(no offer)─────────────────────────────────▶ PerSession
 *   any ─closed─▶ Closed
 *
 * Negotiating: the first session carries the SINGLE_CONNECT flag and nothing else is sent on the
 * connection until its first reply; the reply's flag decides. PerSession: the connection serves its
 * one session and is then closed (§4.3: without single-connect the client closes after the session).
 */
export type ConnectionState =
  | { name: "Connecting" }
  | { name: "Ready" }
  | { name: "Negotiating" }
  | { name: "Multiplexing" }
  | { name: "PerSession" }
  | { name: "Closed"; reason: string };

export type ConnectionEvent =
  | { type: "connected" }
  | { type: "session-started"; offerSingleConnect: boolean }
  | { type: "first-reply"; singleConnect: boolean }
  | { type: "closed"; reason: string };

export class IllegalTransition extends Error {
  override readonly name = "IllegalTransition";
}

export function transition(state: ConnectionState, event: ConnectionEvent): ConnectionState {
  if (event.type === "closed") return state.name === "Closed" ? state : { name: "Closed", reason: event.reason };
  switch (state.name) {
    case "Connecting":
      if (event.type === "connected") return { name: "Ready" };
      break;
    case "Ready":
      if (event.type === "session-started") return event.offerSingleConnect ? { name: "Negotiating" } : { name: "PerSession" };
      break;
    case "Negotiating":
      if (event.type === "first-reply") return event.singleConnect ? { name: "Multiplexing" } : { name: "PerSession" };
      break;
    case "Multiplexing":
      if (event.type === "session-started") return state;
      break;
    case "PerSession":
    case "Closed":
      break;
  }
  throw new IllegalTransition(`connection event ${event.type} is not allowed in state ${state.name}`);
}

/** Whether a new session may start on a connection in this state (capacity is checked separately). */
export function acceptsSessions(state: ConnectionState): boolean {
  return state.name === "Ready" || state.name === "Multiplexing";
}
