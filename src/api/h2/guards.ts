/**
 * What bounds a hostile HTTP/2 peer, per connection and per listener: a token bucket for control
 * frames, and the counters an operator reads (Status RPC, metrics) to see which limit refused what.
 */

/**
 * Refusals and cut-offs of the HTTP/2 layer, one plain number per reason (shared by every
 * connection of a listener).
 */
export interface H2Counters {
  /** Connections refused at --max-api-connections (every open one had completed a request). */
  connectionsRefused: number;
  /** Connections refused at --max-api-connections-per-peer (every open one of that peer had completed a request). */
  peerConnectionsRefused: number;
  /** Connections that had not completed a request, closed to admit a new one at the limit. */
  connectionsEvicted: number;
  /** Connections without preface and SETTINGS within the handshake deadline. */
  handshakeTimeouts: number;
  /** Streams refused (REFUSED_STREAM) beyond --max-api-streams-per-connection. */
  streamsRefused: number;
  /** Connections cut (GOAWAY ENHANCE_YOUR_CALM) for a SETTINGS/PING/WINDOW_UPDATE/PRIORITY/RST_STREAM flood. */
  controlFloods: number;
  /** Connections cut for cancelling more streams than they let complete (rapid reset, CVE-2023-44487). */
  rapidResets: number;
  /** Streams reset because the peer kept their window at zero past the write deadline. */
  writeTimeouts: number;
}

export function newH2Counters(): H2Counters {
  return { connectionsRefused: 0, peerConnectionsRefused: 0, connectionsEvicted: 0, handshakeTimeouts: 0, streamsRefused: 0, controlFloods: 0, rapidResets: 0, writeTimeouts: 0 };
}

/**
 * A token bucket: `capacity` tokens, refilled at `perSecond`; `take()` is false when empty.
 * `credit()` adds tokens for useful work (a request opened), up to the capacity.
 */
export class TokenBucket {
  #tokens: number;
  #at: number;

  constructor(
    private readonly capacity: number,
    private readonly perSecond: number,
    private readonly now: () => number,
  ) {
    this.#tokens = capacity;
    this.#at = now();
  }

  take(): boolean {
    if (this.#tokens < 1) {
      const now = this.now();
      this.#tokens = Math.min(this.capacity, this.#tokens + ((now - this.#at) * this.perSecond) / 1000);
      this.#at = now;
      if (this.#tokens < 1) return false;
    }
    this.#tokens -= 1;
    return true;
  }

  credit(tokens: number): void {
    this.#tokens = Math.min(this.capacity, this.#tokens + tokens);
  }
}
