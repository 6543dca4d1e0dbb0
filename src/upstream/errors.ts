/** Failures inside the engine, before they are translated into an UpstreamError for the caller. */

/**
 * Why one exchange (a packet sent, a reply awaited) failed:
 * - connect: no connection could be opened (never delivered);
 * - lost: the connection died; `delivered` says whether the packet had been written to it;
 * - timeout: no reply within the server's timeout (says something about the server);
 * - deadline: the caller's deadline passed first (says nothing about the server);
 * - protocol: the reply was invalid (bad body, wrong key, seq_no, flags);
 * - busy: the server's bound on sessions in flight is reached (never delivered);
 * - cancelled: the caller aborted or the engine closed.
 */
export type ExchangeFailureKind = "connect" | "lost" | "timeout" | "deadline" | "protocol" | "busy" | "cancelled";

export class ExchangeError extends Error {
  override readonly name = "ExchangeError";

  constructor(
    message: string,
    readonly kind: ExchangeFailureKind,
    readonly delivered: boolean,
  ) {
    super(message);
  }

  /** Failures that say something about the server's health, moving the failover state. */
  get isServerFailure(): boolean {
    return this.kind === "connect" || this.kind === "lost" || this.kind === "timeout" || this.kind === "protocol";
  }
}
