import { expect, test } from "bun:test";
import { codecErrorCode } from "../../test/support/codec-assert";
import { Flags, MAX_BODY_LENGTH_CAP, PacketType, VERSION_DEFAULT } from "./constants";
import { encodeHeader } from "./header";
import { FrameReader } from "./frame-reader";
import { encodePacket } from "./packet";

function frame(seqNo: number, bodyLength: number): Uint8Array {
  const body = Uint8Array.from({ length: bodyLength }, (_, i) => (i * 31 + seqNo) & 0xff);
  return encodePacket({ version: VERSION_DEFAULT, type: PacketType.Authentication, seqNo, flags: Flags.Unencrypted, sessionId: 9 }, body);
}


const frames = [frame(1, 0), frame(2, 40), frame(3, 5), frame(4, 300)];
const stream = Buffer.concat(frames);

test("splits a stream at every possible pair of chunk boundaries", () => {
  for (let a = 0; a <= stream.length; a += 7) {
    for (let b = a; b <= stream.length; b += 11) {
      const reader = new FrameReader();
      const out = [stream.subarray(0, a), stream.subarray(a, b), stream.subarray(b)].flatMap((c) => reader.push(c));
      expect(out).toEqual(frames);
      expect(reader.buffered).toBe(0);
    }
  }
});

test("byte-by-byte delivery yields each frame exactly when its last byte arrives", () => {
  const reader = new FrameReader();
  const ends: number[] = [];
  const out: Uint8Array[] = [];
  for (let i = 0; i < stream.length; i++) {
    const got = reader.push(stream.subarray(i, i + 1));
    if (got.length > 0) ends.push(i + 1);
    out.push(...got);
  }
  expect(out).toEqual(frames);
  let end = 0;
  expect(ends).toEqual(frames.map((f) => (end += f.length)));
});

test("a frame inside one chunk is a view; a frame across chunks is a copy", () => {
  const reader = new FrameReader();
  const [first] = reader.push(stream);
  expect(first!.buffer).toBe(stream.buffer);
  const split = new FrameReader();
  split.push(frames[1]!.subarray(0, 20));
  const [joined] = split.push(frames[1]!.subarray(20));
  expect(joined!.buffer).not.toBe(frames[1]!.buffer);
  expect(joined).toEqual(frames[1]!);
});

test("refuses an oversized frame as soon as its header is complete, before the body arrives", () => {
  const reader = new FrameReader(1000);
  const header = encodeHeader({ version: VERSION_DEFAULT, type: PacketType.Accounting, seqNo: 1, flags: 0, sessionId: 1, length: 1001 });
  expect(reader.push(header.subarray(0, 11))).toEqual([]);
  expect(codecErrorCode(() => reader.push(header.subarray(11)))).toBe("too-large");
});

test("a bad header is an error, not a wait for more bytes", () => {
  const garbage = new TextEncoder().encode("GET / HTTP/1.1\r\n");
  expect(codecErrorCode(() => new FrameReader().push(garbage))).toBe("bad-version");
});

test("the maximum cannot exceed the hard cap", () => {
  expect(codecErrorCode(() => new FrameReader(MAX_BODY_LENGTH_CAP + 1))).toBe("too-large");
  expect(codecErrorCode(() => new FrameReader(MAX_BODY_LENGTH_CAP))).toBe("none");
});

test("many tiny chunks of a maximum-size frame are assembled in linear time", () => {
  const big = frame(1, MAX_BODY_LENGTH_CAP);
  const reader = new FrameReader(MAX_BODY_LENGTH_CAP);
  const started = performance.now();
  const out: Uint8Array[] = [];
  for (let i = 0; i < big.length; i += 3) out.push(...reader.push(big.subarray(i, i + 3)));
  expect(out).toEqual([big]);
  // ~65k pushes; a quadratic reader (re-concatenating) would take many seconds.
  expect(performance.now() - started).toBeLessThan(2000);
});
