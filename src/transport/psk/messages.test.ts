import { describe, expect, test } from "bun:test";
import { ALERT, TlsFailure } from "./alerts";
import { HandshakeReassembler, encodeHandshake, handshakeName } from "./messages";
import { concatBytes } from "./wire";

describe("HandshakeReassembler", () => {
  test("several messages in one fragment, and one message over several fragments", () => {
    const first = encodeHandshake(8, Uint8Array.of(0, 0));
    const second = encodeHandshake(20, new Uint8Array(32).fill(9));
    const reassembler = new HandshakeReassembler();
    const both = concatBytes([first, second]);
    expect(reassembler.push(both.subarray(0, 10), 1000).map((m) => m.type)).toEqual([8]);
    expect(reassembler.hasPartial).toBe(true);
    expect(reassembler.push(both.subarray(10, 20), 1000)).toEqual([]);
    const [finished] = reassembler.push(both.subarray(20), 1000);
    expect(finished?.type).toBe(20);
    expect(Buffer.from(finished!.raw).equals(Buffer.from(second))).toBe(true);
    expect(reassembler.hasPartial).toBe(false);
  });

  test("a message larger than the limit is refused before it is buffered", () => {
    const reassembler = new HandshakeReassembler();
    try {
      reassembler.push(Uint8Array.of(4, 0x01, 0x00, 0x00), 1000);
      throw new Error("expected a failure");
    } catch (error) {
      expect((error as TlsFailure).alert).toBe(ALERT.unexpected_message);
    }
  });

  test("names for logs", () => {
    expect(handshakeName(2)).toBe("server_hello");
    expect(handshakeName(99)).toBe("handshake type 99");
  });
});
