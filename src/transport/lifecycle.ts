/**
 * The life of one stream, as a value: connecting → open → closed, or connecting → closed when
 * the connect fails or times out. Every socket event goes through `transition`, so late events
 * (data after close, a handshake after the timeout) change nothing.
 */
export type Phase = "connecting" | "open" | "closed";

export type PhaseEvent =
  /** TCP connected (plain) or the TLS handshake and server checks passed. */
  | "established"
  /** Connect error, TLS rejection or connect timeout. */
  | "failed"
  /** Local close(), peer close, reset or fatal alert. */
  | "closed";

export function transition(phase: Phase, event: PhaseEvent): Phase {
  switch (phase) {
    case "connecting":
      return event === "established" ? "open" : "closed";
    case "open":
      return event === "established" ? "open" : "closed";
    case "closed":
      return "closed";
  }
}
