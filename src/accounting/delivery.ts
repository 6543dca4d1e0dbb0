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
 * Fan-out (--accounting-fan-out): a live record goes to every collector at once (`fanOut`); the
 * caller gets the reply of the first collector in server order that took it. A collector that
 * missed it gets it from its own spool (a subdirectory, its own cursor and replay), in order once
 * it is back, without holding up the others.
 *
 * Delivery guarantee: exactly once within a run; at least once across a crash (a record sent but
 * not yet acknowledged in the cursor file is sent again after a restart).
 */
import { join } from "node:path";
import { errorMessage } from "../common/error-message";
import type { Logger } from "../common/log";
import { AcctStatus, CodecError, PacketType, replyStatus } from "../protocol";
import type { Clock } from "../upstream/clock";
import { UpstreamError, type UpstreamEngine, type UpstreamSession } from "../upstream/types";
import { journalFields, journalLine, type JournalOutcome } from "./journal";
import { REPLAY_LIVE_PER_SECOND, REPLAY_TARGET_DELAY_MS } from "./pacing";
import { Replayer, type ReplayStats } from "./replay";
import { collectorDirectory, collectorDirectoryName, collectorDirectoryNames } from "./collectors";
import { Spool, SpoolFullError, SpoolWriteError, type SpoolEntry, type SpoolStats } from "./spool";
import { stampTime } from "./stamp";

/** The server_msg / serverMessage of a record the agent queued. */
export const QUEUED_MESSAGE = "tacacsrs-agentd: no server answered; record queued in the accounting spool";

/** The engine's attempt at a live record. */
export type LiveOutcome = { kind: "answered"; server: string; replyBody: Uint8Array } | { kind: "failed"; retriable: boolean };

/** What the service answers: as it would without this layer, queued, or refused (retriable). */
export type Verdict = { kind: "pass" } | { kind: "queued" } | { kind: "refused"; message: string };

/** A fanned-out record: the preferred collector's reply, or a verdict, or the last error. */
export type FanOutResult = { kind: "answered"; server: string; replyBody: Uint8Array } | Exclude<Verdict, { kind: "pass" }> | { kind: "failed"; error: UpstreamError };

export interface AccountingStats extends SpoolStats, ReplayStats {
  /** Fan-out: records a collector missed and could not be spooled for it (no spool, or full). */
  fanOutMissed: number;
  /** Spooled records of collectors no longer configured: kept, not delivered (also counted in `records`). */
  orphanedRecords: number;
}

/** One collector of the fan-out. */
export interface FanOutCollector {
  /** The server's name (UpstreamServer.name): what the engine knows it by. */
  server: string;
  /** "host:port": what its spool is known by (a renamed server keeps its spool). */
  address: string;
}

export interface AccountingDeliveryOptions {
  engine: UpstreamEngine;
  /** The spool, already opened (recovered); absent: no spooling. */
  spool?: Spool;
  /** --accounting-fan-out: the collectors in server order; absent: ordered failover as usual. */
  fanOut?: FanOutCollector[];
  /**
   * With a spool: the spool directory and how to open a spool in it. Each collector gets its own
   * (collectors.ts); those found there for collectors no longer configured are kept and reported.
   */
  collectorSpools?: { dir: string; open: (dir: string) => Spool };
  /** Writes one journal line (--accounting-log); absent: no journal. */
  journal?: (line: string) => void;
  clock: Clock;
  log: Logger;
  /** Deadline of each replayed exchange. */
  requestTimeoutMs: number;
  /** Replay sessions in flight at most: a share of --max-sessions-in-flight (the paced window stays below). */
  replayWindow: number;
}

/**
 * A spool and its replay: to whichever server answers (`server` undefined) or to one collector
 * (`key`: its directory name). A collector lane whose server left the configuration is parked:
 * its replay paused, its records kept.
 */
interface Lane {
  server: string | undefined;
  key: string;
  spool: Spool | undefined;
  replayer: Replayer | undefined;
}

export class AccountingDelivery {
  readonly #main: Lane;
  #collectors: Lane[] | undefined;
  /** Collector spools without a configured collector, by directory name. */
  readonly #parked = new Map<string, Lane>();
  #fanOutMissed = 0;
  readonly #unsubscribe: () => void;

  constructor(private readonly options: AccountingDeliveryOptions) {
    this.#main = this.#lane(undefined, "", options.spool);
    const spools = options.collectorSpools;
    for (const key of spools ? collectorDirectoryNames(spools.dir) : []) {
      const spool = spools!.open(join(spools!.dir, key)); // listed just now: it exists
      const lane = this.#lane(undefined, key, spool);
      lane.replayer!.pause();
      this.#parked.set(key, lane);
    }
    if (options.fanOut) this.reconfigureFanOut(options.fanOut);
    for (const lane of this.#parked.values()) {
      if (lane.spool!.records > 0) options.log.warn(`accounting fan-out: ${join(spools!.dir, lane.key)} holds ${lane.spool!.records} record(s) of a collector that is not configured; kept, and delivered once a server with that address is a collector again`);
    }
    // The preferred-server probe (or any server answering) ends an outage: try the backlog now.
    this.#unsubscribe = options.engine.onStateChange((status) => {
      if (status.state !== "NoResponsiveServer") this.serverAnswered();
    });
  }

  get fanOutEnabled(): boolean {
    return this.#collectors !== undefined;
  }

  /**
   * The fan-out collectors changed (SIGHUP): a collector is known by its address, so a renamed
   * server keeps its spool and its replay goes on under the new name; a collector that left is
   * parked (its records kept and reported, never re-sent to the others, which got them already);
   * a parked or new address becomes a collector again with its spool.
   */
  reconfigureFanOut(collectors: readonly FanOutCollector[]): void {
    const spools = this.options.collectorSpools;
    const previous = this.#collectors ?? [];
    const next = collectors.map((collector) => {
      const key = collectorDirectoryName(collector.address);
      const lane = previous.find((candidate) => candidate.key === key) ?? this.#parked.get(key) ?? this.#lane(undefined, key, spools && this.#openCollectorSpool(spools, key, collector.server));
      if (this.#parked.delete(key)) lane.replayer?.resume();
      if (lane.server !== undefined && lane.server !== collector.server) this.options.log.warn(`accounting fan-out: collector ${lane.server} is now named ${collector.server} (same address ${collector.address}); its spool follows it`);
      lane.server = collector.server;
      return lane;
    });
    for (const lane of previous) {
      if (next.includes(lane)) continue;
      lane.replayer?.pause();
      if (lane.spool) this.#parked.set(lane.key, lane);
      const kept = lane.spool ? `; its ${lane.spool.records} spooled record(s) are kept in ${join(spools!.dir, lane.key)} and delivered if a server with its address is a collector again` : "";
      this.options.log.warn(`accounting fan-out: ${lane.server} is no longer a collector${kept}`);
    }
    this.#collectors = next;
  }

  /** A new collector's spool; a directory that cannot be used is logged and the collector goes without (its misses are counted). */
  #openCollectorSpool(spools: NonNullable<AccountingDeliveryOptions["collectorSpools"]>, key: string, server: string): Spool | undefined {
    try {
      return spools.open(collectorDirectory(spools.dir, key));
    } catch (error) {
      this.options.log.error(`accounting fan-out: no spool for ${server} (${errorMessage(error)}); records it misses are logged and counted as fan_out_missed`);
      return undefined;
    }
  }

  #lane(server: string | undefined, key: string, spool: Spool | undefined): Lane {
    const { options } = this;
    const lane: Lane = { server, key, spool, replayer: undefined };
    lane.replayer = spool && new Replayer(spool, (entry) => this.#replay(lane.server, entry), { maxWindow: options.replayWindow, targetDelayMs: REPLAY_TARGET_DELAY_MS, livePerSecond: REPLAY_LIVE_PER_SECOND, roundTripClock: () => performance.now(), clock: options.clock, log: options.log });
    if (spool && spool.records > 0) lane.replayer!.wake();
    return lane;
  }

  /** Settles a live record (its REQUEST body, version byte) after the engine's attempt. Reads `body` synchronously only. */
  async settle(version: number, body: Uint8Array, outcome: LiveOutcome): Promise<Verdict> {
    if (outcome.kind === "answered" && !isErrorReply(outcome.replyBody)) {
      this.#main.replayer?.nudge();
      this.#journal(body, { delivered: outcome.server });
      return { kind: "pass" };
    }
    if (!this.#main.spool || (outcome.kind === "failed" && !outcome.retriable)) return { kind: "pass" };
    const stamped = this.#stamp(body);
    if (!stamped) return { kind: "pass" };
    const fields = this.options.journal && journalFields(stamped.body);
    const verdict = await this.#spool(this.#main, version, stamped);
    if (verdict.kind === "queued" && fields) this.options.journal!(journalLine(fields, { queued: true }));
    return verdict;
  }

  /**
   * Fan-out: sends the record to every collector at once (not cancelled when the caller leaves:
   * the record must reach them all), spools it for each collector that missed it.
   */
  async fanOut(version: number, body: Uint8Array, deadline: number): Promise<FanOutResult> {
    const collectors = this.#collectors ?? [];
    const request = { type: PacketType.Accounting, version, body, deadline, resendable: false };
    const attempts = await Promise.all(collectors.map((lane) => this.options.engine.startOn(lane.server!, request).then(took, failed)));
    const stamped = attempts.some((attempt) => !attempt.ok) ? this.#stamp(body) : undefined;
    const queued: string[] = [];
    let refused: string | undefined;
    await Promise.all(
      attempts.map(async (attempt, index) => {
        const lane = collectors[index]!;
        if (attempt.ok) return lane.replayer?.nudge();
        const verdict = lane.spool && stamped ? await this.#spool(lane, version, stamped) : undefined;
        if (verdict?.kind === "queued") return void queued.push(lane.server!);
        if (verdict?.kind === "refused") refused = verdict.message;
        this.#fanOutMissed++;
        this.options.log.warn(`accounting fan-out: ${lane.server} missed a record (${verdict?.kind === "refused" ? verdict.message : attempt.ok ? "" : attempt.error.message})`);
      }),
    );
    const delivered = attempts.filter((attempt) => attempt.ok).map((attempt) => attempt.server);
    this.#journal(stamped?.body ?? body, { fanOut: { delivered, queued } });
    const first = attempts.find((attempt) => attempt.ok);
    if (first?.ok) return { kind: "answered", server: first.server, replyBody: first.replyBody };
    if (queued.length > 0) return { kind: "queued" };
    if (refused !== undefined) return { kind: "refused", message: refused };
    const last = attempts.at(-1);
    return { kind: "failed", error: last && !last.ok ? last.error : new UpstreamError("no accounting collector is configured", "", false, "unavailable") };
  }

  /** A server answered some request (any type): a waiting backlog is tried now. */
  serverAnswered(): void {
    this.#main.replayer?.nudge();
    for (const lane of this.#collectors ?? []) lane.replayer?.nudge();
  }

  /** Spool depth and delivery counters over every spool; undefined without a spool. */
  stats(): AccountingStats | undefined {
    const lanes = this.#lanes().filter((lane) => lane.spool);
    if (lanes.length === 0) return undefined;
    let orphanedRecords = 0;
    for (const lane of this.#parked.values()) orphanedRecords += lane.spool!.records;
    const total = { fanOutMissed: this.#fanOutMissed, orphanedRecords } as AccountingStats;
    for (const lane of lanes) {
      const figures: Record<string, number> = { ...lane.spool!.snapshot(), ...lane.replayer!.stats };
      for (const [name, value] of Object.entries(figures)) {
        const key = name as keyof AccountingStats;
        total[key] = name === "oldestAgeSeconds" || name === "maxBytes" ? Math.max(total[key] ?? 0, value) : (total[key] ?? 0) + value;
      }
    }
    return total;
  }

  /** Every lane: the main one, the collectors, the parked ones. */
  #lanes(): Lane[] {
    return [this.#main, ...(this.#collectors ?? []), ...this.#parked.values()];
  }

  async close(): Promise<void> {
    this.#unsubscribe();
    for (const lane of this.#lanes()) {
      lane.replayer?.close();
      await lane.spool?.close();
    }
  }

  /** The body with its time argument, and the acceptance time; undefined for a body that is no accounting REQUEST. */
  #stamp(body: Uint8Array): { body: Uint8Array; acceptedAt: number } | undefined {
    const acceptedAt = this.options.clock.now();
    try {
      return { body: stampTime(body, acceptedAt), acceptedAt };
    } catch (error) {
      if (error instanceof CodecError) return undefined;
      throw error;
    }
  }

  async #spool(lane: Lane, version: number, stamped: { body: Uint8Array; acceptedAt: number }): Promise<Verdict> {
    try {
      await lane.spool!.append({ version, acceptedAt: stamped.acceptedAt, body: stamped.body });
    } catch (error) {
      if (error instanceof SpoolFullError || error instanceof SpoolWriteError) return { kind: "refused", message: error.message };
      throw error;
    }
    lane.replayer!.wake();
    return { kind: "queued" };
  }

  #journal(body: Uint8Array, outcome: JournalOutcome): void {
    const { journal } = this.options;
    if (!journal) return;
    const fields = journalFields(body);
    if (fields) journal(journalLine(fields, outcome));
  }

  /** One replayed record, to `server` or (undefined) with failover: true when a server took it (any reply but ERROR). */
  async #replay(server: string | undefined, entry: SpoolEntry): Promise<boolean> {
    const { engine, clock } = this.options;
    const request = { type: PacketType.Accounting, version: entry.version, body: entry.body, deadline: clock.now() + this.options.requestTimeoutMs, resendable: false };
    try {
      const session = await (server === undefined ? engine.start(request) : engine.startOn(server, request));
      session.end();
      return !isErrorReply(session.reply.body);
    } catch {
      return false;
    }
  }
}

type Attempt = { ok: true; server: string; replyBody: Uint8Array } | { ok: false; error: UpstreamError };

/** A collector's answer: taken unless it is ERROR (the session ends here; the reply is copied). */
function took(session: UpstreamSession): Attempt {
  const replyBody = session.reply.body.slice();
  session.end();
  if (isErrorReply(replyBody)) return { ok: false, error: new UpstreamError(`${session.server} replied ERROR`, session.server, true, "unavailable") };
  return { ok: true, server: session.server, replyBody };
}

function failed(error: unknown): Attempt {
  if (error instanceof UpstreamError) return { ok: false, error };
  throw error;
}

function isErrorReply(replyBody: Uint8Array): boolean {
  try {
    return replyStatus(PacketType.Accounting, replyBody) === AcctStatus.Error;
  } catch {
    return true;
  }
}
