import { describe, expect, test } from "bun:test";
import { checkPskIdentity, parsePskKey, PskMaterialError } from "./key-material";

const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString("hex");

describe("parsePskKey", () => {
  test("plain text is its UTF-8 bytes", () => {
    expect(hex(parsePskKey("0123456789abcdef"))).toBe(Buffer.from("0123456789abcdef").toString("hex"));
    expect(parsePskKey("schlüssel-ümlaute").length).toBe(19);
  });

  test("hex: and base64: prefixes decode bytes", () => {
    expect(hex(parsePskKey("hex:00112233445566778899AABBCCDDEEFF"))).toBe("00112233445566778899aabbccddeeff");
    expect(hex(parsePskKey("base64:ABEiM0RVZneImaq7zN3u/w=="))).toBe("00112233445566778899aabbccddeeff");
    expect(hex(parsePskKey("base64:ABEiM0RVZneImaq7zN3u_w"))).toBe("00112233445566778899aabbccddeeff");
  });

  test("keys shorter than 16 octets are rejected", () => {
    expect(() => parsePskKey("short-key-15oct")).toThrow(/15 octets; at least 16/);
    expect(() => parsePskKey("hex:00112233445566778899aabbccddee")).toThrow(PskMaterialError);
    expect(() => parsePskKey("")).toThrow(/0 octets/);
  });

  test("malformed encodings are rejected without quoting the key", () => {
    for (const bad of ["hex:0011223344556677889900aabbccddeeffX0", "hex:001", "base64:#not-base64-at-all!", "base64:A"]) {
      let message = "";
      try {
        parsePskKey(bad);
      } catch (error) {
        expect(error).toBeInstanceOf(PskMaterialError);
        message = (error as Error).message;
      }
      expect(message).not.toBe("");
      expect(message).not.toContain(bad.slice(bad.indexOf(":") + 1));
    }
  });
});

describe("checkPskIdentity", () => {
  test("accepts 1..65535 octets and rejects the rest", () => {
    expect(checkPskIdentity(new Uint8Array(1)).length).toBe(1);
    expect(checkPskIdentity(new Uint8Array(65_535)).length).toBe(65_535);
    expect(() => checkPskIdentity(new Uint8Array(0))).toThrow(/0 octets/);
    expect(() => checkPskIdentity(new Uint8Array(65_536))).toThrow(/65536 octets/);
  });
});
