/**
 * The server side of the RFC 9113 §5.1 stream state machine, from the moment a client's HEADERS
 * opens a stream (idle and the push-related reserved states never occur on our streams).
 *
 *   open ── recv END_STREAM ──> half-closed (remote) ── send END_STREAM ──> closed
 *   open ── send END_STREAM ──> half-closed (local)  ── recv END_STREAM ──> closed
 *   any  ── send/recv RST_STREAM ──> closed
 */
export type StreamState = "open" | "half-closed-remote" | "half-closed-local" | "closed";
export type StreamEvent = "recv-end-stream" | "send-end-stream" | "reset";

/** The next state, or undefined when the event is not allowed in `state` (a STREAM_CLOSED error). */
export function transition(state: StreamState, event: StreamEvent): StreamState | undefined {
  if (event === "reset") return "closed";
  switch (state) {
    case "open":
      return event === "recv-end-stream" ? "half-closed-remote" : "half-closed-local";
    case "half-closed-remote":
      return event === "send-end-stream" ? "closed" : undefined;
    case "half-closed-local":
      return event === "recv-end-stream" ? "closed" : undefined;
    case "closed":
      return undefined;
  }
}

/** Whether the client may still send DATA / trailers on a stream in `state`. */
export function remoteOpen(state: StreamState): boolean {
  return state === "open" || state === "half-closed-local";
}

/** Whether we may still send on a stream in `state`. */
export function localOpen(state: StreamState): boolean {
  return state === "open" || state === "half-closed-remote";
}
