import { describe, expect, test } from "bun:test";
import { encodeRecord, RECORD_HEADER_BYTES, scanRecords } from "./record";

const record = (n: number) => ({ version: 0xc0, acceptedAt: 1_700_000_000_000 + n, body: new Uint8Array([n, n + 1, n + 2]) });
const joined = (...parts: Uint8Array[]) => new Uint8Array(Buffer.concat(parts));

describe("spool record format", () => {
  test("records round-trip with their offsets", () => {
    const bytes = joined(encodeRecord(record(1)), encodeRecord(record(2)));
    const scan = scanRecords(bytes, 100);
    expect(scan.stop).toBeUndefined();
    expect(scan.validEnd).toBe(100 + bytes.length);
    expect(scan.records.map((r) => [r.version, r.acceptedAt, [...r.body], r.offset])).toEqual([
      [0xc0, 1_700_000_000_001, [1, 2, 3], 100],
      [0xc0, 1_700_000_000_002, [2, 3, 4], 100 + bytes.length / 2],
    ]);
  });

  test("a torn tail (any cut) ends the valid prefix as partial", () => {
    const first = encodeRecord(record(1));
    const second = encodeRecord(record(2));
    for (let cut = 1; cut < second.length; cut++) {
      const scan = scanRecords(joined(first, second.subarray(0, cut)));
      expect(scan).toMatchObject({ validEnd: first.length, stop: "partial" });
      expect(scan.records).toHaveLength(1);
    }
  });

  test("a flipped bit anywhere in a record is corrupt, never replayed", () => {
    const first = encodeRecord(record(1));
    for (let at = 0; at < first.length; at++) {
      const bad = joined(first, encodeRecord(record(2)));
      bad[at]! ^= 0x10;
      const scan = scanRecords(bad);
      expect(scan.records).toHaveLength(0);
      expect(scan.validEnd).toBe(0);
      expect(scan.stop === "corrupt" || scan.stop === "partial").toBe(true);
    }
  });

  test("an absurd length is corrupt, not a reason to wait for more bytes", () => {
    const bad = encodeRecord(record(1));
    bad.set([0x7f, 0xff, 0xff, 0xff], 0);
    expect(scanRecords(bad).stop).toBe("corrupt");
    expect(RECORD_HEADER_BYTES).toBe(8);
  });
});
