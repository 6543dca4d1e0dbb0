import { expect, test } from "bun:test";
import { commandKey } from "./decisions";
import { EntryReader, encodeEntry, MAX_ENTRY_BYTES } from "./allowed-feed";

const arg = (text: string) => ({ bytes: new TextEncoder().encode(text), length: Buffer.byteLength(text) });

test("entries come back whole, in order, however the reads cut them", () => {
  const keys = [commandKey("/usr/bin/ls", [arg("-l"), arg("é\0x")], 2), commandKey("/usr/bin/true", [], 0), "k"];
  const bytes = Buffer.concat(keys.map((key, i) => encodeEntry(key, 1_800_000_000_000 + i)!));
  for (const cut of [1, 5, 12, 13, bytes.length - 1]) {
    const reader = new EntryReader();
    const entries = [...reader.push(bytes.subarray(0, cut)), ...reader.push(bytes.subarray(cut))];
    expect(entries).toEqual(keys.map((key, i) => ({ key, expiresAt: 1_800_000_000_000 + i })));
  }
});

test("an entry longer than one atomic pipe write is not made; a corrupt length fails the feed", () => {
  expect(encodeEntry("x".repeat(MAX_ENTRY_BYTES - 12), 1)!.length).toBe(MAX_ENTRY_BYTES);
  expect(encodeEntry("x".repeat(MAX_ENTRY_BYTES - 11), 1)).toBeUndefined();
  const corrupt = new Uint8Array(12);
  new DataView(corrupt.buffer).setUint32(0, MAX_ENTRY_BYTES, true);
  expect(() => new EntryReader().push(corrupt)).toThrow("corrupt feed");
});
