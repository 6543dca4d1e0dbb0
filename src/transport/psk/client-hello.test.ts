import { describe, expect, test } from "bun:test";
import { parseClientHello } from "../../../test/support/psk-fake-server";
import { OFFERED_SUITES } from "./cipher-suites";
import { encodeClientHello, PSK_DHE_KE, PSK_KE, type ClientHelloParams } from "./client-hello";
import { GROUP_CODE } from "./key-exchange";
import { EXTENSION, TLS13 } from "./messages";

const params = (overrides: Partial<ClientHelloParams> = {}): ClientHelloParams => ({
  random: new Uint8Array(32).fill(1),
  sessionId: new Uint8Array(32).fill(2),
  suites: OFFERED_SUITES,
  keyExchange: "psk-dhe",
  groups: ["secp384r1", "secp256r1", "x25519"],
  keyShares: [{ group: "secp384r1", publicKey: new Uint8Array(97).fill(4) }],
  identity: new TextEncoder().encode("host01@example.com"),
  binderLength: 32,
  ...overrides,
});

const BINDER = new Uint8Array(32).fill(0xbb);

describe("encodeClientHello", () => {
  test("psk-dhe: suites, versions, groups, one key share, psk_dhe_ke, and pre_shared_key last", () => {
    const hello = parseClientHello(encodeClientHello(params(), () => BINDER));
    expect(hello.suites).toEqual([0x1301, 0x1302]);
    expect(hello.sessionId.length).toBe(32);
    expect(hello.order.at(-1)).toBe(EXTENSION.pre_shared_key);
    expect([...hello.extensions.get(EXTENSION.supported_versions)!]).toEqual([2, TLS13 >> 8, TLS13 & 0xff]);
    expect(hello.groups).toEqual([GROUP_CODE.secp384r1, GROUP_CODE.secp256r1, GROUP_CODE.x25519]);
    expect([...hello.keyShares.keys()]).toEqual([GROUP_CODE.secp384r1]);
    expect(hello.modes).toEqual([PSK_DHE_KE]);
    expect(new TextDecoder().decode(hello.identities[0])).toBe("host01@example.com");
    expect(hello.binders).toEqual([BINDER]);
    expect(hello.extensions.has(EXTENSION.early_data)).toBe(false);
    expect(hello.extensions.has(EXTENSION.server_name)).toBe(false);
  });

  test("obfuscated_ticket_age is 0 for an external PSK", () => {
    const hello = parseClientHello(encodeClientHello(params(), () => BINDER));
    const psk = hello.extensions.get(EXTENSION.pre_shared_key)!;
    const identityLength = (psk[2]! << 8) | psk[3]!;
    expect([...psk.subarray(4 + identityLength, 8 + identityLength)]).toEqual([0, 0, 0, 0]);
  });

  test("psk-only: psk_ke alone, no groups, no key share", () => {
    const hello = parseClientHello(encodeClientHello(params({ keyExchange: "psk-only", groups: [], keyShares: [] }), () => BINDER));
    expect(hello.modes).toEqual([PSK_KE]);
    expect(hello.extensions.has(EXTENSION.supported_groups)).toBe(false);
    expect(hello.extensions.has(EXTENSION.key_share)).toBe(false);
  });

  test("the binder covers the hello up to the binders list, with final lengths", () => {
    let truncated = new Uint8Array(0);
    const message = encodeClientHello(params(), (bytes) => {
      truncated = bytes.slice();
      return BINDER;
    });
    // binders list = u16 length + u8 length + 32 bytes
    expect(truncated.length).toBe(message.length - 35);
    expect(Buffer.from(message.subarray(0, truncated.length)).equals(truncated)).toBe(true);
    expect([...message.subarray(1, 4)]).toEqual([0, (message.length - 4) >> 8, (message.length - 4) & 0xff]);
  });

  test("server_name for a host name, never for an address literal", () => {
    const named = parseClientHello(encodeClientHello(params({ serverName: "tacacs1.example.com" }), () => BINDER));
    expect(new TextDecoder().decode(named.extensions.get(EXTENSION.server_name)!.subarray(5))).toBe("tacacs1.example.com");
    for (const address of ["192.0.2.1", "2001:db8::1"]) {
      const hello = parseClientHello(encodeClientHello(params({ serverName: address }), () => BINDER));
      expect(hello.extensions.has(EXTENSION.server_name)).toBe(false);
    }
  });

  test("a 65000-octet identity fits; the cookie is echoed", () => {
    const hello = parseClientHello(
      encodeClientHello(params({ identity: new Uint8Array(65_000).fill(0x61), cookie: Uint8Array.of(9, 9) }), () => BINDER),
    );
    expect(hello.identities[0]!.length).toBe(65_000);
    expect([...hello.extensions.get(EXTENSION.cookie)!]).toEqual([0, 2, 9, 9]);
  });

  test("an identity too large for the 2^16-1 extensions block is a RangeError", () => {
    expect(() => encodeClientHello(params({ identity: new Uint8Array(65_535) }), () => BINDER)).toThrow(RangeError);
  });
});
