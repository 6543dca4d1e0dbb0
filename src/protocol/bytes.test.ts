import { expect, test } from "bun:test";
import { copyAscii, copyInto, readUint16, readUint32, utf8, writeUint16, writeUint32 } from "./bytes";

test("big-endian integers: the extremes round-trip and land in network byte order", () => {
  const out = new Uint8Array(7);
  writeUint16(out, 1, 0xfffe);
  writeUint32(out, 3, 0xdeadbeef);
  expect([...out]).toEqual([0, 0xff, 0xfe, 0xde, 0xad, 0xbe, 0xef]);
  expect(readUint16(out, 1)).toBe(0xfffe);
  expect(readUint32(out, 3)).toBe(0xdeadbeef);
  writeUint32(out, 0, 0xffffffff);
  expect(readUint32(out, 0)).toBe(0xffffffff);
  writeUint32(out, 0, 0);
  expect(readUint32(out, 0)).toBe(0);
});

test("copyInto copies short and long fields at an offset", () => {
  for (const length of [0, 1, 64, 65, 1000]) {
    const field = Uint8Array.from({ length }, (_, i) => i * 31);
    const out = new Uint8Array(length + 3);
    copyInto(out, 2, field);
    expect(out.subarray(2, 2 + length)).toEqual(field);
    expect([out[0], out[1], out[length + 2]]).toEqual([0, 0, 0]);
  }
});

test("utf8 gives the TextEncoder's bytes, ASCII or not (lone surrogates included)", () => {
  for (const text of ["", "admin", "10.0.0.1", "\u007f", "ü", "käse=1", "€uro", "😀", "a\ud800b"]) {
    expect(utf8(text)).toEqual(new TextEncoder().encode(text));
  }
});

test("copyAscii refuses text beyond ASCII", () => {
  const out = new Uint8Array(4);
  expect(copyAscii("ab", out, 1)).toBe(true);
  expect([...out]).toEqual([0, 0x61, 0x62, 0]);
  expect(copyAscii("aé", out, 0)).toBe(false);
});
