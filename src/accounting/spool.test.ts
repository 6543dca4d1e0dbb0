/** The spool on a real temp directory (fast: a few hundred small records). */
import { afterEach, describe, expect, test } from "bun:test";
import { appendFileSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { capturingLogger } from "../../test/support/logging";
import { ManualClock } from "../upstream/manual-clock";
import { Spool, SpoolFullError, SpoolWriteError, type SpoolEntry } from "./spool";

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function spoolDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "tacacsrs-h15-spool-"));
  dirs.push(dir);
  return dir;
}

const record = (n: number, size = 40) => ({ version: 0xc0, acceptedAt: 1_000_000 + n, body: new Uint8Array(size).fill(n & 0xff) });
const open = (dir: string, extra: { maxBytes?: number; segmentBytes?: number } = {}) => {
  const log = capturingLogger();
  const clock = new ManualClock(2_000_000);
  return { spool: Spool.open({ dir, maxBytes: extra.maxBytes ?? 1 << 20, clock, log, ...(extra.segmentBytes ? { segmentBytes: extra.segmentBytes } : {}) }), log, clock };
};

function drain(spool: Spool, count = Infinity): SpoolEntry[] {
  const out: SpoolEntry[] = [];
  while (out.length < count) {
    const entry = spool.next();
    if (!entry) break;
    out.push(entry);
  }
  return out;
}

describe("spool", () => {
  test("appends made together share a write; records come back in order and survive a reopen", async () => {
    const dir = spoolDir();
    const { spool } = open(dir);
    await Promise.all(Array.from({ length: 200 }, (_, n) => spool.append(record(n))));
    expect(spool.records).toBe(200);
    expect(spool.snapshot().syncs).toBe(1);
    const firstRun = drain(spool, 50);
    expect(firstRun.map((e) => e.acceptedAt - 1_000_000)).toEqual(Array.from({ length: 50 }, (_, n) => n));
    for (const entry of firstRun.slice(0, 30)) spool.acknowledge(entry);
    await spool.close();
    const again = open(dir).spool;
    expect(again.snapshot()).toMatchObject({ records: 170, recovered: 170 });
    expect(drain(again).map((e) => e.acceptedAt - 1_000_000)).toEqual(Array.from({ length: 170 }, (_, n) => n + 30));
    await again.close();
  });

  test("records larger than a read chunk (16 KiB) come back whole and in order, between small ones", async () => {
    const dir = spoolDir();
    const { spool } = open(dir);
    const sizes = [40, 20_000, 40, 150_000, 16_384, 40, 70_000, 40];
    await Promise.all(sizes.map((size, n) => spool.append(record(n, size))));
    const read = drain(spool);
    expect(read.map((e) => e.body.length)).toEqual(sizes);
    for (const [n, entry] of read.entries()) expect(entry.body.every((byte) => byte === n)).toBe(true);
    await spool.close();
  });

  test("start-up reads a segment larger than its buffer in pieces: frames cut at a piece's end are whole, the torn tail is cut", async () => {
    const dir = spoolDir();
    const { spool } = open(dir, { maxBytes: 64 << 20 });
    // 3,000 records of 1,017 bytes: one 3 MiB segment, read through a 1 MiB buffer.
    await Promise.all(Array.from({ length: 3000 }, (_, n) => spool.append(record(n, 999))));
    await spool.close();
    const [segment] = readdirSync(dir).filter((name) => name.endsWith(".seg"));
    appendFileSync(join(dir, segment!), new Uint8Array(700).fill(7));
    const { spool: again, log } = open(dir, { maxBytes: 64 << 20 });
    expect(again.snapshot()).toMatchObject({ records: 3000, corruptBytesTruncated: 700 });
    expect(log.lines.join("\n")).toContain("700 bytes skipped and truncated");
    expect(drain(again).map((e) => e.acceptedAt - 1_000_000)).toEqual(Array.from({ length: 3000 }, (_, n) => n));
    await again.close();
  });

  test("delivered segments are deleted; the bound counts bytes on disk", async () => {
    const dir = spoolDir();
    const { spool } = open(dir, { segmentBytes: 1024 });
    for (let n = 0; n < 40; n++) await spool.append(record(n));
    expect(readdirSync(dir).filter((name) => name.endsWith(".seg")).length).toBeGreaterThan(1);
    for (const entry of drain(spool)) spool.acknowledge(entry);
    expect(spool.snapshot()).toMatchObject({ records: 0, bytes: 0, delivered: 40 });
    // Deleted asynchronously (a slow disk never stalls the event loop).
    for (let i = 0; i < 100 && readdirSync(dir).some((name) => name.endsWith(".seg")); i++) await Bun.sleep(10);
    expect(readdirSync(dir).filter((name) => name.endsWith(".seg"))).toEqual([]);
    await spool.append(record(99));
    expect(drain(spool).map((e) => e.acceptedAt)).toEqual([1_000_099]);
    await spool.close();
  });

  test("full: new records are refused with the limit named; nothing spooled is dropped", async () => {
    const dir = spoolDir();
    const { spool, log } = open(dir, { maxBytes: 64 * 1024 });
    const results = await Promise.allSettled(Array.from({ length: 2000 }, (_, n) => spool.append(record(n))));
    const accepted = results.filter((r) => r.status === "fulfilled").length;
    const refused = results.filter((r) => r.status === "rejected");
    expect(accepted).toBeGreaterThan(500);
    expect(refused.length).toBe(2000 - accepted);
    expect((refused[0] as PromiseRejectedResult).reason).toBeInstanceOf(SpoolFullError);
    expect(String((refused[0] as PromiseRejectedResult).reason.message)).toContain("--accounting-spool-max-bytes 65536");
    expect(log.lines.filter((line) => line.includes("is full"))).toHaveLength(1);
    expect(drain(spool).length).toBe(accepted);
    expect(spool.snapshot().refusedFull).toBe(refused.length);
    await spool.close();
  });

  test("a torn or corrupt tail is reported, truncated and never replayed", async () => {
    const dir = spoolDir();
    const first = open(dir).spool;
    for (let n = 0; n < 10; n++) await first.append(record(n));
    await first.close();
    const segment = join(dir, readdirSync(dir).find((name) => name.endsWith(".seg"))!);
    const good = statSync(segment).size;
    appendFileSync(segment, new Uint8Array([0, 0, 0, 60, 1, 2, 3]));
    const { spool, log } = open(dir);
    expect(log.lines.some((line) => line.includes("torn tail") && line.includes("7 bytes skipped"))).toBe(true);
    expect(statSync(segment).size).toBe(good);
    expect(spool.snapshot()).toMatchObject({ records: 10, corruptBytesTruncated: 7 });
    await spool.close();
    // A corrupt record in the middle: everything from it on is cut.
    const bytes = new Uint8Array(await Bun.file(segment).arrayBuffer());
    bytes[good - 20]! ^= 0xff;
    writeFileSync(segment, bytes);
    const third = open(dir);
    expect(third.log.lines.some((line) => line.includes("corrupt tail"))).toBe(true);
    expect(drain(third.spool).length).toBe(9);
    await third.spool.close();
  });

  test("the oldest record's age is reported", async () => {
    const dir = spoolDir();
    const { spool, clock } = open(dir);
    await spool.append({ ...record(0), acceptedAt: clock.now() });
    clock.advance(5_000);
    expect(spool.snapshot()).toMatchObject({ records: 1, oldestAgeSeconds: 5 });
    await spool.close();
  });

  test("an unusable directory is refused with one sentence", () => {
    const dir = spoolDir();
    const file = join(dir, "file");
    writeFileSync(file, "x");
    expect(() => open(file)).toThrow("is not a directory");
    expect(() => open(join(dir, "missing"))).toThrow("does not exist");
  });
});

describe("spool on a full disk", () => {
  // A 64 KiB tmpfs is the disk; mounting needs root (the CI container runs as root).
  const canMount = process.getuid?.() === 0;
  test.skipIf(!canMount)("a write the disk refuses is a clean retriable error; what was accepted stays readable", async () => {
    const dir = spoolDir();
    const mount = Bun.spawnSync(["mount", "-t", "tmpfs", "-o", "size=64k,mode=0700", "tacacsrs-h15-full", dir]);
    if (mount.exitCode !== 0) throw new Error(`mount failed: ${mount.stderr.toString()}`);
    try {
      const { spool, log } = open(dir, { maxBytes: 1 << 20 });
      const accepted: number[] = [];
      let failure: unknown;
      for (let n = 0; n < 2000 && failure === undefined; n++) {
        await spool.append(record(n, 200)).then(
          () => accepted.push(n),
          (error: unknown) => (failure = error),
        );
      }
      expect(failure).toBeInstanceOf(SpoolWriteError);
      expect(String((failure as Error).message)).toContain("retry later");
      expect(log.lines.some((line) => line.startsWith("error") && line.includes("write failed"))).toBe(true);
      expect(spool.snapshot()).toMatchObject({ records: accepted.length, writeErrors: 1 });
      expect(drain(spool).map((entry) => entry.acceptedAt - 1_000_000)).toEqual(accepted);
      await spool.close();
      // The segment ends on a record: a reopen finds no torn tail.
      const again = open(dir);
      expect(again.spool.snapshot()).toMatchObject({ records: accepted.length, corruptBytesTruncated: 0 });
      await again.spool.close();
    } finally {
      Bun.spawnSync(["umount", dir]);
    }
  });
});
