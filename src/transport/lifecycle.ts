/**
 * The life of one stream, as a value. Plain TCP: connecting → open. TLS: connecting → handshaking
 * → settling → open, where "settling" is a short wait after our Finished for the server's verdict
 * on our client certificate (RFC 8446 §4.4.2: in TLS 1.3 the client finishes first, so a refusal
 * arrives as an alert after the client's handshake is complete). Any failure or close → closed.
 * Every socket event goes through `transition`, so late or out-of-order events change nothing.
 */
export type Phase = "connecting" | "handshaking" | "settling" | "open" | "closed";

export type PhaseEvent =
  /** TCP connected; a TLS handshake follows. */
  | "connected"
  /** TLS handshake complete and the server certificate accepted. */
  | "handshaken"
  /** The stream is ready for the owner. */
  | "established"
  /** Connect error, TLS rejection or connect timeout. */
  | "failed"
  /** Local close(), peer close, reset or fatal alert. */
  | "closed";

/** Edges that move the stream forward; anything else leaves the phase unchanged, except failures. */
const FORWARD: Partial<Record<Phase, Partial<Record<PhaseEvent, Phase>>>> = {
  connecting: { connected: "handshaking", established: "open" },
  handshaking: { handshaken: "settling" },
  settling: { established: "open" },
};

export function transition(phase: Phase, event: PhaseEvent): Phase {
  if (phase === "closed") return "closed";
  if (event === "failed" || event === "closed") return "closed";
  return FORWARD[phase]?.[event] ?? phase;
}

/** Phases before the owner has a stream: a failure here rejects connect(). */
export function isConnecting(phase: Phase): phase is "connecting" | "handshaking" | "settling" {
  return phase === "connecting" || phase === "handshaking" || phase === "settling";
}
