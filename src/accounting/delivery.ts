/**
 * Accounting delivery, between the engine and the services (API, proxy): what becomes of a live
 * record once the engine tried it, the spool and its replay, and the local journal copy.
 *
 * - A server took it: the caller gets that server's reply (as without this layer); the journal
 *   line names the server; a spool backlog is nudged, since a server answers again.
 * - Every server failed (a retriable error, or ERROR replies), and a spool is configured: the
 *   record gets its time argument (stamp.ts), is appended durably, and the caller is told it was
 *   queued. A full spool or a failed write refuses it with a retriable error.
 * - Otherwise the caller's answer is what it is today.
 *
 * Delivery guarantee: exactly once within a run; at least once across a crash (a record sent but
 * not yet acknowledged in the cursor file is sent again after a restart).
 */
import type { Logger } from "../common/log";
import { AcctStatus, CodecError, PacketType, replyStatus } from "../protocol";
import type { Clock } from "../upstream/clock";
import type { UpstreamEngine } from "../upstream/types";
import { journalFields, journalLine, type JournalOutcome } from "./journal";
import { Replayer, type ReplayStats } from "./replay";
import { Spool, SpoolFullError, SpoolWriteError, type SpoolEntry, type SpoolStats } from "./spool";
import { stampTime } from "./stamp";

/** The server_msg / serverMessage of a record the agent queued. */
export const QUEUED_MESSAGE = "tacacsrs-agentd: no server answered; record queued in the accounting spool";

/** The engine's attempt at a live record. */
export type LiveOutcome = { kind: "answered"; server: string; replyBody: Uint8Array } | { kind: "failed"; retriable: boolean };

/** What the service answers: as it would without this layer, queued, or refused (retriable). */
export type Verdict = { kind: "pass" } | { kind: "queued" } | { kind: "refused"; message: string };

export interface AccountingStats extends SpoolStats, ReplayStats {}

export interface AccountingDeliveryOptions {
  engine: UpstreamEngine;
  /** The spool, already opened (recovered); absent: no spooling. */
  spool?: Spool;
  /** Writes one journal line (--accounting-log); absent: no journal. */
  journal?: (line: string) => void;
  clock: Clock;
  log: Logger;
  /** Deadline of each replayed exchange. */
  requestTimeoutMs: number;
  /** Replay sessions in flight at most: a share of --max-sessions-in-flight. */
  replayWindow: number;
  /** Replayed records per second at most. */
  replayPerSecond: number;
}

export class AccountingDelivery {
  readonly #replayer: Replayer | undefined;

  constructor(private readonly options: AccountingDeliveryOptions) {
    const { spool } = options;
    this.#replayer = spool && new Replayer(spool, (entry) => this.#replay(entry), { window: options.replayWindow, maxPerSecond: options.replayPerSecond, clock: options.clock, log: options.log });
    if (spool && spool.records > 0) this.#replayer!.wake();
  }

  /** Settles a live record (its REQUEST body, version byte) after the engine's attempt. Reads `body` synchronously only. */
  async settle(version: number, body: Uint8Array, outcome: LiveOutcome): Promise<Verdict> {
    const { spool, journal } = this.options;
    if (outcome.kind === "answered" && !isErrorReply(outcome.replyBody)) {
      this.#replayer?.nudge();
      this.#journal(body, { delivered: outcome.server });
      return { kind: "pass" };
    }
    if (!spool || (outcome.kind === "failed" && !outcome.retriable)) return { kind: "pass" };
    const acceptedAt = this.options.clock.now();
    let stamped: Uint8Array;
    try {
      stamped = stampTime(body, acceptedAt);
    } catch (error) {
      if (error instanceof CodecError) return { kind: "pass" };
      throw error;
    }
    const fields = journal && journalFields(stamped);
    try {
      await spool.append({ version, acceptedAt, body: stamped });
    } catch (error) {
      if (error instanceof SpoolFullError || error instanceof SpoolWriteError) return { kind: "refused", message: error.message };
      throw error;
    }
    this.#replayer!.wake();
    if (fields) journal!(journalLine(fields, { queued: true }));
    return { kind: "queued" };
  }

  /** A server answered some request (any type): a waiting backlog is tried now. */
  serverAnswered(): void {
    this.#replayer?.nudge();
  }

  /** Spool depth and delivery counters; undefined without a spool. */
  stats(): AccountingStats | undefined {
    const { spool } = this.options;
    return spool && { ...spool.snapshot(), ...this.#replayer!.stats };
  }

  async close(): Promise<void> {
    this.#replayer?.close();
    await this.options.spool?.close();
  }

  #journal(body: Uint8Array, outcome: JournalOutcome): void {
    const { journal } = this.options;
    if (!journal) return;
    const fields = journalFields(body);
    if (fields) journal(journalLine(fields, outcome));
  }

  /** One replayed record: true when a server took it (any reply but ERROR). */
  async #replay(entry: SpoolEntry): Promise<boolean> {
    const { engine, clock } = this.options;
    try {
      const session = await engine.start({
        type: PacketType.Accounting,
        version: entry.version,
        body: entry.body,
        deadline: clock.now() + this.options.requestTimeoutMs,
        resendable: false,
      });
      session.end();
      return !isErrorReply(session.reply.body);
    } catch {
      return false;
    }
  }
}

function isErrorReply(replyBody: Uint8Array): boolean {
  try {
    return replyStatus(PacketType.Accounting, replyBody) === AcctStatus.Error;
  } catch {
    return true;
  }
}
