/**
 * The reference's failover state machine ("Failover Behaviour"), as a value and one transition:
 *
 *   PreferredActive (server 0) ──server fails──▶ FailedOver(n) ──last server fails──▶ NoResponsiveServer
 *          ▲                                          │                                      │
 *          └────────────── probe of server 0 succeeds ┴──── any server answers ──────────────┘
 *
 * Servers are tried strictly in configured order: a request starts at `startIndex(state)` and moves
 * to the next index when a server fails. In NoResponsiveServer every request retries from server 0.
 */
export type FailoverState =
  | { name: "PreferredActive" }
  | { name: "FailedOver"; server: number }
  | { name: "NoResponsiveServer"; lastTried: number };

export type FailoverEvent =
  /** Server `server` could not serve a request (connect failure, timeout, lost connection, ERROR reply). */
  | { type: "server-failed"; server: number }
  /** Server `server` answered a request. */
  | { type: "server-answered"; server: number }
  /** The periodic probe reached the preferred server. */
  | { type: "probe-succeeded" };

export const initialFailoverState: FailoverState = { name: "PreferredActive" };

/** The server new requests try first. */
export function startIndex(state: FailoverState): number {
  return state.name === "FailedOver" ? state.server : 0;
}

function activeAt(server: number): FailoverState {
  return server === 0 ? { name: "PreferredActive" } : { name: "FailedOver", server };
}

export function transition(state: FailoverState, event: FailoverEvent, serverCount: number): FailoverState {
  switch (event.type) {
    case "server-failed": {
      // Only the failure of the server new requests go to moves the state; a stale failure of a
      // server already left behind (a concurrent request) changes nothing.
      if (state.name === "NoResponsiveServer" || event.server !== startIndex(state)) return state;
      const next = event.server + 1;
      return next < serverCount ? { name: "FailedOver", server: next } : { name: "NoResponsiveServer", lastTried: event.server };
    }
    case "server-answered":
      // With nothing responsive, the first server to answer again becomes the active one.
      return state.name === "NoResponsiveServer" ? activeAt(event.server) : state;
    case "probe-succeeded":
      return state.name === "PreferredActive" ? state : activeAt(0);
  }
}

export function describeFailoverState(state: FailoverState, serverName: (index: number) => string): string {
  switch (state.name) {
    case "PreferredActive":
      return `PreferredActive (${serverName(0)})`;
    case "FailedOver":
      return `FailedOver (${serverName(state.server)})`;
    case "NoResponsiveServer":
      return `NoResponsiveServer (last tried ${serverName(state.lastTried)})`;
  }
}
