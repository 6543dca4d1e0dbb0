import { expect, test } from "bun:test";
import { encodeHeaderBlock, HpackDecoder, HpackError, readInteger, type HeaderField } from "./hpack";

const hex = (text: string) => Uint8Array.from(Buffer.from(text.replace(/\s+/g, ""), "hex"));

/** Decodes a sequence of blocks with one decoder; returns each list and the table size after it. */
function decodeAll(tableSize: number, blocks: string[]): Array<[HeaderField[], number]> {
  const decoder = new HpackDecoder(tableSize, 64 * 1024);
  return blocks.map((block) => [decoder.decode(hex(block)).fields, decoder.tableSize]);
}

const REQUESTS: HeaderField[][] = [
  [[":method", "GET"], [":scheme", "http"], [":path", "/"], [":authority", "www.example.com"]],
  [[":method", "GET"], [":scheme", "http"], [":path", "/"], [":authority", "www.example.com"], ["cache-control", "no-cache"]],
  [[":method", "GET"], [":scheme", "https"], [":path", "/index.html"], [":authority", "www.example.com"], ["custom-key", "custom-value"]],
];
const RESPONSES: HeaderField[][] = [
  [[":status", "302"], ["cache-control", "private"], ["date", "Mon, 21 Oct 2013 20:13:21 GMT"], ["location", "https://www.example.com"]],
  [[":status", "307"], ["cache-control", "private"], ["date", "Mon, 21 Oct 2013 20:13:21 GMT"], ["location", "https://www.example.com"]],
  [
    [":status", "200"],
    ["cache-control", "private"],
    ["date", "Mon, 21 Oct 2013 20:13:22 GMT"],
    ["location", "https://www.example.com"],
    ["content-encoding", "gzip"],
    ["set-cookie", "foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1"],
  ],
];

test("RFC 7541 C.1: integer representation", () => {
  expect(readInteger(Uint8Array.of(0x0a), { at: 0 }, 5)).toBe(10);
  expect(readInteger(Uint8Array.of(0x1f, 0x9a, 0x0a), { at: 0 }, 5)).toBe(1337);
  expect(readInteger(Uint8Array.of(0x2a), { at: 0 }, 8)).toBe(42);
});

test("RFC 7541 C.2: literal fields and an indexed field", () => {
  const decoder = new HpackDecoder(4096, 65536);
  expect(decoder.decode(hex("400a 6375 7374 6f6d 2d6b 6579 0d63 7573 746f 6d2d 6865 6164 6572")).fields).toEqual([["custom-key", "custom-header"]]);
  expect(decoder.tableSize).toBe(55);
  expect(decoder.decode(hex("040c 2f73 616d 706c 652f 7061 7468")).fields).toEqual([[":path", "/sample/path"]]);
  expect(decoder.decode(hex("1008 7061 7373 776f 7264 0673 6563 7265 74")).fields).toEqual([["password", "secret"]]);
  expect(decoder.tableSize).toBe(55); // without / never indexed: the table is unchanged
  expect(decoder.decode(hex("82")).fields).toEqual([[":method", "GET"]]);
});

test("RFC 7541 C.3 / C.4: requests without and with Huffman coding share one dynamic table", () => {
  const plain = ["8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d", "8286 84be 5808 6e6f 2d63 6163 6865", "8287 85bf 400a 6375 7374 6f6d 2d6b 6579 0c63 7573 746f 6d2d 7661 6c75 65"];
  const huffman = ["8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff", "8286 84be 5886 a8eb 1064 9cbf", "8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf"];
  const expected = REQUESTS.map((fields, i) => [fields, [57, 110, 164][i]]);
  expect(decodeAll(4096, plain)).toEqual(expected as any);
  expect(decodeAll(4096, huffman)).toEqual(expected as any);
});

test("RFC 7541 C.5 / C.6: responses evict entries from a 256-byte table", () => {
  const plain = [
    "4803 3330 3258 0770 7269 7661 7465 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 2032 303a 3133 3a32 3120 474d 546e 1768 7474 7073 3a2f 2f77 7777 2e65 7861 6d70 6c65 2e63 6f6d",
    "4803 3330 37c1 c0bf",
    "88c1 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 2032 303a 3133 3a32 3220 474d 54c0 5a04 677a 6970 7738 666f 6f3d 4153 444a 4b48 514b 425a 584f 5157 454f 5049 5541 5851 5745 4f49 553b 206d 6178 2d61 6765 3d33 3630 303b 2076 6572 7369 6f6e 3d31",
  ];
  const huffman = [
    "4882 6402 5885 aec3 771a 4b61 96d0 7abe 9410 54d4 44a8 2005 9504 0b81 66e0 82a6 2d1b ff6e 919d 29ad 1718 63c7 8f0b 97c8 e9ae 82ae 43d3",
    "4883 640e ffc1 c0bf",
    "88c1 6196 d07a be94 1054 d444 a820 0595 040b 8166 e084 a62d 1bff c05a 839b d9ab 77ad 94e7 821d d7f2 e6c7 b335 dfdf cd5b 3960 d5af 2708 7f36 72c1 ab27 0fb5 291f 9587 3160 65c0 03ed 4ee5 b106 3d50 07",
  ];
  const expected = RESPONSES.map((fields, i) => [fields, [222, 222, 215][i]]);
  expect(decodeAll(256, plain)).toEqual(expected as any);
  expect(decodeAll(256, huffman)).toEqual(expected as any);
});

test("dynamic table size updates: shrink evicts, only at the start of a block, never above our limit", () => {
  const decoder = new HpackDecoder(4096, 65536);
  decoder.decode(hex("400a 6375 7374 6f6d 2d6b 6579 0d63 7573 746f 6d2d 6865 6164 6572"));
  expect(decoder.tableSize).toBe(55);
  // 0x20: size 0 empties the table; 0x3f e1 1f: back to 4096; then the evicted entry is gone.
  expect(decoder.decode(hex("20 3fe11f")).fields).toEqual([]);
  expect(decoder.tableSize).toBe(0);
  expect(() => decoder.decode(hex("be"))).toThrow("beyond the tables");
  expect(() => decoder.decode(hex("3fe21f"))).toThrow("exceeds the limit 4096");
  expect(() => decoder.decode(hex("82 20"))).toThrow("size update after a header field");
  // An entry larger than the table empties it and is not added (§4.4).
  const small = new HpackDecoder(64, 65536);
  small.decode(hex("4001 61 01 62")); // a: b, 34 bytes
  expect(small.tableSize).toBe(34);
  small.decode(encodeLiteralIndexed("x".repeat(20), "y".repeat(20)));
  expect(small.tableSize).toBe(0);
});

test("malformed blocks are HpackErrors: index 0, bad index, truncation, oversized integers", () => {
  const cases: Array<[string, string]> = [
    ["80", "index 0"],
    ["ff 80 01", "beyond the tables"], // 127 + 128
    ["40 05 61", "longer than the field block"],
    ["40", "truncated string literal"],
    ["ff", "truncated integer"],
    ["ff ff ff ff ff ff 0f", "integer too large"],
  ];
  for (const [block, message] of cases) {
    const decoder = new HpackDecoder(4096, 65536);
    let caught: unknown;
    try {
      decoder.decode(hex(block));
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(HpackError);
    expect([block, (caught as Error).message]).toEqual([block, expect.stringContaining(message)]);
  }
});

test("Huffman: EOS, over-long or non-EOS padding are refused", () => {
  const decode = (bytes: string) => new HpackDecoder(4096, 65536).decode(hex(`00 01 61 ${bytes}`));
  // 'a' is 00011 (5 bits): 00011 111 is 'a' with 3 bits of valid padding.
  expect(decode("81 1f").fields).toEqual([["a", "a"]]);
  expect(() => decode("81 18")).toThrow("padding is not the EOS prefix"); // 00011 000
  expect(() => decode("82 1f ff")).toThrow("padding longer than 7 bits");
  expect(() => decode("84 ff ff ff ff")).toThrow("contains EOS"); // 30 ones = EOS
});

test("a header list over the cap is flagged and dropped, while the table stays in sync", () => {
  const decoder = new HpackDecoder(4096, 100);
  const big = decoder.decode(encodeLiteralIndexed("big", "v".repeat(80)));
  expect(big.oversized).toBe(true);
  expect(big.fields).toEqual([]);
  expect(decoder.tableSize).toBe(3 + 80 + 32);
  // Referencing it again (index 62) is still decodable, and still too big.
  expect(decoder.decode(hex("be")).oversized).toBe(true);
  expect(decoder.decode(hex("82")).fields).toEqual([[":method", "GET"]]);
});

test("the encoder uses static indexes and literals without indexing; the decoder reads them back", () => {
  const fields: HeaderField[] = [
    [":status", "200"],
    [":status", "415"],
    ["content-type", "application/grpc"],
    ["grpc-status", "0"],
    ["grpc-message", "x".repeat(300)],
  ];
  const block = encodeHeaderBlock(fields);
  expect(block[0]).toBe(0x88); // :status 200 is static entry 8
  expect([...block.subarray(1, 3)]).toEqual([0x08, 0x03]); // :status name index 8, literal "415"
  const decoder = new HpackDecoder(4096, 65536);
  expect(decoder.decode(block).fields).toEqual(fields);
  expect(decoder.tableSize).toBe(0);
});

/** A literal with incremental indexing and a new name (no Huffman). */
function encodeLiteralIndexed(name: string, value: string): Uint8Array {
  const literal = encodeHeaderBlock([[name, value]]);
  const copy = literal.slice();
  copy[0] = 0x40;
  return copy;
}

test("a repeated literal without indexing decodes to the same field object; other literals do not", () => {
  const decoder = new HpackDecoder(4096, 65536);
  // §6.2.2 literal without indexing, static name :path (index 4), raw and Huffman-coded values.
  const raw = hex("040c 2f73 616d 706c 652f 7061 7468"); // /sample/path
  const other = hex("040c 2f73 616d 706c 652f 7061 7469"); // /sample/pati
  const huffman = encodeHeaderBlock([[":path", "/tacacsrs.agent.v1.TacacsAgent/Accounting"]]);
  const first = decoder.decode(raw).fields[0]!;
  expect(decoder.decode(raw).fields[0]).toBe(first);
  expect(decoder.decode(other).fields).toEqual([[":path", "/sample/pati"]]);
  expect(decoder.decode(raw).fields[0]).toBe(first);
  const path = decoder.decode(huffman).fields[0]!;
  expect(path).toEqual([":path", "/tacacsrs.agent.v1.TacacsAgent/Accounting"]);
  expect(decoder.decode(huffman).fields[0]).toBe(path);
  // A name from the dynamic table is never cached: the same bytes mean another name once the table changes.
  decoder.decode(hex("400a 6375 7374 6f6d 2d6b 6579 0d63 7573 746f 6d2d 6865 6164 6572")); // custom-key → index 62
  const dynamicName = hex("0f2f 0161"); // literal without indexing, name index 62, value "a"
  expect(decoder.decode(dynamicName).fields).toEqual([["custom-key", "a"]]);
  decoder.decode(hex("4003 6b65 7901 76")); // "key: v" becomes index 62
  expect(decoder.decode(dynamicName).fields).toEqual([["key", "a"]]);
});

test("the literal cache stays bounded and correct over many distinct literals", () => {
  const decoder = new HpackDecoder(4096, 65536);
  for (let i = 0; i < 200; i++) {
    const path = `/p/${i}`;
    expect(decoder.decode(encodeHeaderBlock([[":path", path]])).fields).toEqual([[":path", path]]);
  }
  expect(decoder.decode(encodeHeaderBlock([[":path", "/p/7"]])).fields).toEqual([[":path", "/p/7"]]);
});

test("a repeated block that left the table as it was decodes to the same list; after a change it is decoded again", () => {
  const decoder = new HpackDecoder(4096, 65536);
  const indexing = encodeLiteralIndexed("x-key", "v");
  const inserted = decoder.decode(indexing);
  expect(decoder.decode(indexing)).not.toBe(inserted);
  expect(decoder.tableSize).toBe(2 * (5 + 1 + 32));
  const stateless = hex("82 be"); // :method GET, dynamic index 62
  const list = decoder.decode(stateless);
  expect(list.fields).toEqual([[":method", "GET"], ["x-key", "v"]]);
  expect(decoder.decode(stateless)).toBe(list);
  const resize = hex("3fe11f 82"); // a size update (to 4096) is a change too
  expect(decoder.decode(resize)).not.toBe(decoder.decode(resize));
  const again = decoder.decode(stateless);
  expect(again).not.toBe(list);
  expect(again).toEqual(list);
});
