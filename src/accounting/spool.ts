/**
 * The durable spool: accounting records that no upstream server took, on disk until delivered.
 *
 * Writing (group commit): `append` queues a record; the records queued while the previous write
 * and fsync were in progress go out together in one write and one fsync, and each caller's promise
 * resolves only after that fsync. A caller is told "yes" only once its record is durable.
 *
 * Reading: `next()` hands out durable records oldest first, one at a time, reading segments in
 * bounded chunks (memory stays flat however long the spool is); `acknowledge()` is called in
 * the same order once a record is delivered, which moves the cursor and deletes finished segments.
 *
 * Start-up recovery: every segment is scanned; a torn or corrupt tail is reported (segment, bytes
 * skipped) and truncated, so garbage is never replayed.
 */
import { closeSync, fstatSync, openSync, readSync, rmSync, truncateSync } from "node:fs";
import { open, rm, type FileHandle } from "node:fs/promises";
import type { Logger } from "../common/log";
import { errorMessage } from "../common/error-message";
import type { Clock } from "../upstream/clock";
import { spoolDirectoryProblem } from "./directory";
import { countRecords, encodeRecord, MAX_RECORD_PAYLOAD_BYTES, RECORD_HEADER_BYTES, scanRecords, type ScannedRecord, type SpoolRecord } from "./record";
import { listSegments, readCursor, segmentPath, syncDirectory, writeCursor, type Position } from "./segments";

/** Default --accounting-spool-max-bytes: 256 MiB, about a million typical records. */
export const DEFAULT_SPOOL_MAX_BYTES = 256 * 1024 * 1024;
/** A segment is closed and a new one started beyond this size. */
export const SEGMENT_BYTES = 4 * 1024 * 1024;
/**
 * How much of a segment one read brings into memory. The read and its scan (CRC-32 and a record
 * object per frame) run on the event loop, so a chunk is kept small: ~100 typical records, ~0.3 ms
 * (256 KiB took 2–5 ms, up to 7.6 ms, about four times a second while draining: live requests waited).
 */
const READ_CHUNK_BYTES = 16 * 1024;
/** The cursor file is rewritten at most this often while records are being delivered. */
const CURSOR_SAVE_INTERVAL_MS = 100;
/** A full spool is logged at most this often (each refused caller gets its own error anyway). */
const FULL_LOG_INTERVAL_MS = 10_000;

/** The spool is full: the record is refused (retriable); nothing already spooled is dropped. */
export class SpoolFullError extends Error {
  constructor(readonly maxBytes: number) {
    super(`accounting spool is full (--accounting-spool-max-bytes ${maxBytes}); record not accepted, retry later`);
    this.name = "SpoolFullError";
  }
}

/** The disk refused a write: the record is not accepted (retriable). */
export class SpoolWriteError extends Error {
  constructor(reason: string) {
    super(`accounting spool write failed (${reason}); record not accepted, retry later`);
    this.name = "SpoolWriteError";
  }
}

/** A record handed out for delivery: where it lives, so it can be acknowledged. */
export interface SpoolEntry extends SpoolRecord {
  segment: number;
  offset: number;
  end: number;
}

/** Plain numeric fields, for the Status RPC and a metrics endpoint. */
export interface SpoolStats {
  /** Records accepted and not yet delivered. */
  records: number;
  /** Bytes on disk (segments), the figure --accounting-spool-max-bytes bounds. */
  bytes: number;
  maxBytes: number;
  /** Age of the oldest undelivered record, seconds; 0 when empty. */
  oldestAgeSeconds: number;
  /** Records appended (durably) since start. */
  appended: number;
  /** Write + fsync batches since start (group commit: records arriving together share one). */
  syncs: number;
  /** Records delivered (acknowledged) since start. */
  delivered: number;
  /** Records refused because the spool was full. */
  refusedFull: number;
  /** Records refused because the disk refused the write. */
  writeErrors: number;
  /** Bytes of torn or corrupt tails truncated at start. */
  corruptBytesTruncated: number;
  /** Records found undelivered at start (replayed after a restart). */
  recovered: number;
}

interface Segment {
  id: number;
  /** Durable bytes (written and fsync'd). */
  size: number;
}

interface Pending {
  frame: Uint8Array;
  resolve: () => void;
  reject: (error: Error) => void;
}

export interface SpoolOptions {
  dir: string;
  maxBytes: number;
  clock: Clock;
  log: Logger;
  segmentBytes?: number;
}

export class Spool {
  readonly #dir: string;
  readonly #maxBytes: number;
  readonly #segmentBytes: number;
  readonly #clock: Clock;
  readonly #log: Logger;
  /** Segments on disk, oldest first; the last one is the one being written when `#active` is set. */
  readonly #segments: Segment[] = [];
  #nextId: number;
  #active: { segment: Segment; handle: FileHandle } | undefined;
  /** Bytes on disk plus bytes queued for the next write: what the bound applies to. */
  #bytes = 0;
  #queue: Pending[] = [];
  #flushing: Promise<void> | undefined;
  /** Reading: the next position to read, records read ahead, and those handed out not yet acknowledged. */
  #read: Position;
  /** Records of the last chunk read; `#readIndex` is the next one to hand out (no O(n) shift). */
  #readAhead: ScannedRecord[] = [];
  #readIndex = 0;
  #readFd: { segment: number; fd: number } | undefined;
  #outstanding: SpoolEntry[] = [];
  #cursor: Position;
  #cursorTimer: unknown;
  #cursorSaved: Promise<void> = Promise.resolve();
  #lastFullLog = -Infinity;
  #closed = false;
  readonly stats: SpoolStats;

  private constructor(options: SpoolOptions, recovered: { segments: Segment[]; cursor: Position; records: number; corrupt: number }) {
    this.#dir = options.dir;
    this.#maxBytes = options.maxBytes;
    this.#segmentBytes = options.segmentBytes ?? SEGMENT_BYTES;
    this.#clock = options.clock;
    this.#log = options.log;
    this.#segments.push(...recovered.segments);
    this.#nextId = (recovered.segments.at(-1)?.id ?? recovered.cursor.segment) + 1;
    this.#bytes = recovered.segments.reduce((sum, segment) => sum + segment.size, 0);
    this.#read = { ...recovered.cursor };
    this.#cursor = { ...recovered.cursor };
    this.stats = {
      records: recovered.records,
      bytes: this.#bytes,
      maxBytes: options.maxBytes,
      oldestAgeSeconds: 0,
      appended: 0,
      syncs: 0,
      delivered: 0,
      refusedFull: 0,
      writeErrors: 0,
      corruptBytesTruncated: recovered.corrupt,
      recovered: recovered.records,
    };
  }

  /** Opens (and recovers) the spool in `dir`; throws with one sentence when the directory is unusable. */
  static open(options: SpoolOptions): Spool {
    const problem = spoolDirectoryProblem(options.dir);
    if (problem) throw new Error(`--accounting-spool-dir ${options.dir}: ${problem}`);
    return new Spool(options, recover(options.dir, options.log));
  }

  get records(): number {
    return this.stats.records;
  }

  /** Current figures; the age is computed now. */
  snapshot(): SpoolStats {
    const oldest = this.#outstanding[0] ?? this.#peek();
    this.stats.oldestAgeSeconds = oldest ? Math.max(0, Math.floor((this.#clock.now() - oldest.acceptedAt) / 1000)) : 0;
    this.stats.bytes = this.#bytes;
    return { ...this.stats };
  }

  // ---- writing ----

  /** Resolves once the record is durable; rejects with SpoolFullError or SpoolWriteError. */
  append(record: SpoolRecord): Promise<void> {
    if (this.#closed) return Promise.reject(new SpoolWriteError("the spool is closed"));
    const frame = encodeRecord(record);
    if (this.#bytes + frame.length > this.#maxBytes) {
      this.stats.refusedFull++;
      const now = this.#clock.now();
      if (now - this.#lastFullLog >= FULL_LOG_INTERVAL_MS) {
        this.#lastFullLog = now;
        this.#log.error(`accounting spool ${this.#dir} is full (--accounting-spool-max-bytes ${this.#maxBytes}, ${this.stats.records} records waiting): refusing new records until the collectors take the backlog`);
      }
      return Promise.reject(new SpoolFullError(this.#maxBytes));
    }
    this.#bytes += frame.length;
    return new Promise<void>((resolve, reject) => {
      this.#queue.push({ frame, resolve, reject });
      this.#flushing ??= this.#flush();
    });
  }

  /** Writes queued records, one write + one fsync per batch, until the queue is empty. */
  async #flush(): Promise<void> {
    // Let the rest of this event-loop turn queue its records: they share the first fsync.
    await new Promise<void>((resolve) => setImmediate(resolve));
    while (this.#queue.length > 0) {
      const batch = this.#queue;
      this.#queue = [];
      const bytes = concat(batch.map((pending) => pending.frame));
      try {
        const active = await this.#activeFor(bytes.length);
        const { bytesWritten } = await active.handle.write(bytes, 0, bytes.length, active.segment.size);
        if (bytesWritten !== bytes.length) throw new Error(`short write (${bytesWritten} of ${bytes.length} bytes)`);
        await active.handle.datasync();
        active.segment.size += bytes.length;
        this.stats.records += batch.length;
        this.stats.appended += batch.length;
        this.stats.syncs++;
        for (const pending of batch) pending.resolve();
      } catch (error) {
        this.#bytes -= bytes.length;
        this.stats.writeErrors += batch.length;
        this.#log.error(`accounting spool ${this.#dir}: write failed, ${batch.length} record(s) refused: ${errorMessage(error)}`);
        await this.#discardTail();
        const failure = new SpoolWriteError(errorMessage(error));
        for (const pending of batch) pending.reject(failure);
      }
    }
    this.#flushing = undefined;
  }

  /** The segment to append `length` bytes to: a new one when there is none or the current one is full. */
  async #activeFor(length: number): Promise<{ segment: Segment; handle: FileHandle }> {
    const active = this.#active;
    if (active && (active.segment.size === 0 || active.segment.size + length <= this.#segmentBytes)) return active;
    if (active) {
      this.#active = undefined;
      await active.handle.close();
    }
    const segment: Segment = { id: this.#nextId++, size: 0 };
    const handle = await open(segmentPath(this.#dir, segment.id), "wx", 0o600);
    syncDirectory(this.#dir);
    this.#segments.push(segment);
    this.#active = { segment, handle };
    return this.#active;
  }

  /** After a failed write: cut whatever part of it reached the file, so the segment ends on a record. */
  async #discardTail(): Promise<void> {
    const active = this.#active;
    if (!active) return;
    try {
      await active.handle.truncate(active.segment.size);
    } catch (error) {
      this.#log.error(`accounting spool: cannot truncate segment ${active.segment.id} after a failed write: ${errorMessage(error)}; starting a new segment`);
      this.#active = undefined;
      await active.handle.close().catch(() => {});
    }
  }

  // ---- reading ----

  /** The next durable record not handed out yet, oldest first; undefined when none is waiting. */
  next(): SpoolEntry | undefined {
    const record = this.#peek();
    if (!record) return undefined;
    this.#readIndex++;
    const entry: SpoolEntry = { ...record, segment: this.#read.segment };
    this.#read.offset = record.end;
    this.#outstanding.push(entry);
    return entry;
  }

  /** Marks the oldest handed-out record delivered (acknowledgements come in hand-out order). */
  acknowledge(entry: SpoolEntry): void {
    const oldest = this.#outstanding[0];
    if (oldest !== entry) throw new Error("accounting spool: records must be acknowledged in order");
    this.#outstanding.shift();
    this.stats.records--;
    this.stats.delivered++;
    this.#cursor = { segment: entry.segment, offset: entry.end };
    this.#retireDelivered();
    this.#cursorTimer ??= this.#clock.setTimer(() => {
      this.#cursorTimer = undefined;
      void this.#saveCursor();
    }, CURSOR_SAVE_INTERVAL_MS);
  }

  /** The record `next()` would hand out, reading a chunk of the segment when needed. */
  #peek(): ScannedRecord | undefined {
    while (this.#readIndex >= this.#readAhead.length) {
      const index = this.#segments.findIndex((segment) => segment.id >= this.#read.segment);
      const segment = this.#segments[index];
      if (!segment) return undefined;
      if (segment.id !== this.#read.segment) this.#read = { segment: segment.id, offset: 0 };
      if (this.#read.offset < segment.size) {
        this.#readChunk(segment);
        continue;
      }
      const following = this.#segments[index + 1];
      if (!following) return undefined;
      this.#read = { segment: following.id, offset: 0 };
    }
    return this.#readAhead[this.#readIndex];
  }

  #readChunk(segment: Segment): void {
    if (this.#readFd?.segment !== segment.id) {
      this.#closeReadFd();
      this.#readFd = { segment: segment.id, fd: openSync(segmentPath(this.#dir, segment.id), "r") };
    }
    const available = segment.size - this.#read.offset;
    let length = Math.min(available, READ_CHUNK_BYTES);
    for (;;) {
      const bytes = new Uint8Array(length);
      const got = readSync(this.#readFd.fd, bytes, 0, length, this.#read.offset);
      const scan = scanRecords(bytes.subarray(0, got), this.#read.offset);
      if (scan.records.length > 0) {
        this.#readAhead = scan.records;
        this.#readIndex = 0;
        return;
      }
      if (scan.stop === "partial" && length < available && got === length) {
        // One record larger than the chunk: read exactly its frame.
        const frame = got >= RECORD_HEADER_BYTES ? RECORD_HEADER_BYTES + new DataView(bytes.buffer).getUint32(0) : length * 2;
        length = Math.min(available, Math.max(frame, length + 1), RECORD_HEADER_BYTES + MAX_RECORD_PAYLOAD_BYTES);
        continue;
      }
      // A durable range that does not scan: the disk changed under us. Skip the rest of the segment.
      this.#log.error(`accounting spool: segment ${segment.id} is unreadable from byte ${this.#read.offset}; skipping ${available} bytes`);
      this.#read.offset = segment.size;
      return;
    }
  }

  /** Deletes segments whose every record is delivered (the one being written only when idle). */
  #retireDelivered(): void {
    while (this.#segments.length > 0) {
      const oldest = this.#segments[0]!;
      const delivered = this.#cursor.segment > oldest.id || (this.#cursor.segment === oldest.id && this.#cursor.offset >= oldest.size);
      if (!delivered) return;
      const writing = this.#active?.segment === oldest;
      if (writing && (this.#flushing || this.#queue.length > 0)) return;
      if (writing) {
        const handle = this.#active!.handle;
        this.#active = undefined;
        void handle.close().catch(() => {});
      }
      this.#segments.shift();
      if (this.#readFd?.segment === oldest.id) this.#closeReadFd();
      this.#bytes -= oldest.size;
      void rm(segmentPath(this.#dir, oldest.id), { force: true }).catch((error: unknown) => this.#log.error(`accounting spool: cannot delete delivered segment ${oldest.id}: ${errorMessage(error)}`));
    }
  }

  #closeReadFd(): void {
    if (this.#readFd) closeSync(this.#readFd.fd);
    this.#readFd = undefined;
  }

  /** Saves the cursor after any save in progress (one at a time, in order). */
  #saveCursor(): Promise<void> {
    const position = { ...this.#cursor };
    this.#cursorSaved = this.#cursorSaved.then(() =>
      writeCursor(this.#dir, position).catch((error: unknown) =>
        this.#log.error(`accounting spool ${this.#dir}: cannot save the delivery cursor (records may be sent again after a restart): ${errorMessage(error)}`),
      ),
    );
    return this.#cursorSaved;
  }

  /** Finishes queued writes, saves the cursor, closes files. */
  async close(): Promise<void> {
    this.#closed = true;
    await this.#flushing;
    if (this.#cursorTimer !== undefined) this.#clock.clearTimer(this.#cursorTimer);
    this.#cursorTimer = undefined;
    await this.#saveCursor();
    this.#closeReadFd();
    await this.#active?.handle.close();
    this.#active = undefined;
  }
}

function concat(parts: Uint8Array[]): Uint8Array {
  if (parts.length === 1) return parts[0]!;
  const out = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

/**
 * The valid records of a segment file from byte `from` on, read through `buffer` (memory stays
 * flat however large the spool): a frame cut by the end of the buffer is read again at the start
 * of the next read; one that does not fit a buffer of the largest valid frame is torn or corrupt.
 */
function countSegment(path: string, from: number, buffer: Uint8Array): { count: number; validEnd: number; size: number; stop?: "partial" | "corrupt" } {
  const fd = openSync(path, "r");
  try {
    const size = fstatSync(fd).size;
    let count = 0;
    let at = 0;
    while (at < size) {
      const got = readSync(fd, buffer, 0, Math.min(buffer.length, size - at), at);
      if (got === 0) return { count, validEnd: at, size, stop: "partial" };
      const scan = countRecords(buffer.subarray(0, got), from - at);
      count += scan.count;
      at += scan.validEnd;
      if (scan.stop === "corrupt" || (scan.stop === "partial" && scan.validEnd === 0)) return { count, validEnd: at, size, stop: scan.stop };
    }
    return { count, validEnd: at, size };
  } finally {
    closeSync(fd);
  }
}

/**
 * Start-up: drop delivered segments, truncate torn or corrupt tails (logged with the segment and
 * the bytes skipped), count what is left to deliver.
 */
function recover(dir: string, log: Logger): { segments: Segment[]; cursor: Position; records: number; corrupt: number } {
  let cursor = readCursor(dir);
  if (cursor === "unreadable") {
    log.warn(`accounting spool ${dir}: the cursor file is unreadable; replaying every spooled record (duplicates possible)`);
    cursor = undefined;
  }
  const segments: Segment[] = [];
  let records = 0;
  let corrupt = 0;
  // One buffer for every segment, large enough for the largest valid frame.
  const buffer = new Uint8Array(RECORD_HEADER_BYTES + MAX_RECORD_PAYLOAD_BYTES);
  for (const id of listSegments(dir)) {
    const path = segmentPath(dir, id);
    if (cursor && id < cursor.segment) {
      rmSync(path, { force: true });
      continue;
    }
    const from = cursor && id === cursor.segment ? cursor.offset : 0;
    const scan = countSegment(path, from, buffer);
    if (scan.validEnd < scan.size) {
      const skipped = scan.size - scan.validEnd;
      corrupt += skipped;
      log.warn(`accounting spool ${dir}: segment ${id}: ${scan.stop === "corrupt" ? "corrupt" : "torn"} tail at byte ${scan.validEnd}, ${skipped} bytes skipped and truncated`);
      truncateSync(path, scan.validEnd);
    }
    const waiting = scan.count;
    if (scan.validEnd === 0 || waiting === 0) {
      rmSync(path, { force: true });
      continue;
    }
    records += waiting;
    segments.push({ id, size: scan.validEnd });
  }
  const start: Position = cursor && segments[0]?.id === cursor.segment ? cursor : { segment: segments[0]?.id ?? cursor?.segment ?? 0, offset: 0 };
  if (records > 0) log.warn(`accounting spool ${dir}: ${records} record(s) waiting from a previous run; they will be delivered when a server answers`);
  return { segments, cursor: start, records, corrupt };
}

