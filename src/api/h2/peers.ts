/**
 * Who a connection belongs to, for fair shares between local clients (issue 19): on the Unix
 * socket the peer's uid from SO_PEERCRED, which the peer cannot forge; on loopback TCP there is
 * no uid, so every TCP client is one peer, "tcp". A Unix peer whose credentials cannot be read
 * (no libc) is the peer "unknown".
 */
import type { PeerCredentials } from "../../common/peer-credentials";

export type PeerKey = number | "tcp" | "unknown";

/** What one peer holds over all its connections (the HTTP/2 layer counts connections, the gRPC layer calls). */
export interface PeerUsage {
  readonly key: PeerKey;
  connections: number;
  calls: number;
  streaming: number;
}

export function peerKey(unix: boolean, peer: PeerCredentials | undefined): PeerKey {
  if (!unix) return "tcp";
  return peer?.uid ?? "unknown";
}

/** The peer in operator words, for refusal messages. */
export function describePeer(key: PeerKey): string {
  return typeof key === "number" ? `uid ${key}` : key === "tcp" ? "peer tcp (all TCP clients)" : "peer unknown (no SO_PEERCRED)";
}

/**
 * The usage of every peer holding a connection or a call. An entry goes when its peer holds
 * nothing, so the table is bounded by the open connections plus the calls still running.
 */
export class PeerTable {
  readonly #peers = new Map<PeerKey, PeerUsage>();

  get size(): number {
    return this.#peers.size;
  }

  /** The usage of `key`, made on first use. */
  of(key: PeerKey): PeerUsage {
    let usage = this.#peers.get(key);
    if (usage === undefined) {
      usage = { key, connections: 0, calls: 0, streaming: 0 };
      this.#peers.set(key, usage);
    }
    return usage;
  }

  /** Forgets the peer when it holds nothing any more (call after lowering its counts). */
  release(usage: PeerUsage): void {
    if (usage.connections === 0 && usage.calls === 0 && this.#peers.get(usage.key) === usage) this.#peers.delete(usage.key);
  }
}
