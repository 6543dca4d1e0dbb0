/** RFC 9105 statistics of one server (ietf-system-tacacs-plus `statistics`), and its failed TLS handshakes by reason. */
import { HANDSHAKE_FAILURE_REASONS, type HandshakeFailureReason } from "../transport/handshake-failure";
import type { ServerStatus } from "./types";

export type Counters = ServerStatus["counters"];

export function newCounters(): Counters {
  return {
    connectionOpens: 0,
    connectionCloses: 0,
    connectionAborts: 0,
    connectionFailures: 0,
    connectionTimeouts: 0,
    messagesSent: 0,
    messagesReceived: 0,
    errorsReceived: 0,
    sessions: 0,
  };
}

export type HandshakeFailureCounts = Record<HandshakeFailureReason, number>;

export function newHandshakeFailureCounts(): HandshakeFailureCounts {
  return Object.fromEntries(HANDSHAKE_FAILURE_REASONS.map((reason) => [reason, 0])) as HandshakeFailureCounts;
}
