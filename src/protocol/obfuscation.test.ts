import { expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { obfuscate } from "./obfuscation";

const key = new TextEncoder().encode("labkey123");
const header = { sessionId: 0x01020304, version: 0xc1, seqNo: 3 };

/** §4.5 written out literally: concatenate the chained MD5 pads, then XOR. */
function referencePad(length: number): Uint8Array {
  const prefix = Buffer.concat([Buffer.from([1, 2, 3, 4]), Buffer.from(key), Buffer.from([0xc1, 3])]);
  const pads: Buffer[] = [];
  while (pads.length * 16 < length) pads.push(createHash("md5").update(Buffer.concat([prefix, ...pads.slice(-1)])).digest());
  return Buffer.concat(pads).subarray(0, length);
}

test("XORs with the chained MD5 pseudo-pad of §4.5, across several 16-byte blocks", () => {
  const body = Uint8Array.from({ length: 53 }, (_, i) => i * 7);
  const pad = referencePad(body.length);
  expect([...obfuscate(body, header, key)]).toEqual([...body].map((b, i) => b ^ pad[i]!));
});

test("is its own inverse and leaves its input untouched", () => {
  const body = new TextEncoder().encode("a body longer than one MD5 block, to chain the pad");
  const copy = body.slice();
  const hidden = obfuscate(body, header, key);
  expect(hidden).not.toEqual(body);
  expect(obfuscate(hidden, header, key)).toEqual(body);
  expect(body).toEqual(copy);
});

test("every header input changes the pad", () => {
  const body = new Uint8Array(16);
  const base = obfuscate(body, header, key);
  expect(obfuscate(body, { ...header, sessionId: 0x01020305 }, key)).not.toEqual(base);
  expect(obfuscate(body, { ...header, version: 0xc0 }, key)).not.toEqual(base);
  expect(obfuscate(body, { ...header, seqNo: 5 }, key)).not.toEqual(base);
  expect(obfuscate(body, header, new TextEncoder().encode("labkey124"))).not.toEqual(base);
});

test("an empty body stays empty", () => {
  expect(obfuscate(new Uint8Array(0), header, key).length).toBe(0);
});
