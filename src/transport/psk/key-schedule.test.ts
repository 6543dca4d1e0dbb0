/**
 * Known-answer tests for the key schedule: RFC 5869 HKDF vectors and RFC 8448 (Example
 * Handshake Traces for TLS 1.3) §3 (1-RTT) and §4 (resumption PSK binder) values.
 */
import { describe, expect, test } from "bun:test";
import { TLS_AES_128_GCM_SHA256 } from "./cipher-suites";
import {
  deriveSecret,
  digest,
  earlySecret,
  externalBinderKey,
  finishedMac,
  handshakeSecret,
  hkdfExpand,
  hkdfExpandLabel,
  hkdfExtract,
  masterSecret,
  nextTrafficSecret,
  trafficKeys,
} from "./key-schedule";

const h = (hex: string): Uint8Array => new Uint8Array(Buffer.from(hex.replace(/\s+/g, ""), "hex"));
const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString("hex");
const ZERO32 = new Uint8Array(32);

describe("HKDF (RFC 5869 appendix A)", () => {
  test("test case 1", () => {
    const prk = hkdfExtract("sha256", h("000102030405060708090a0b0c"), h("0b".repeat(22)));
    expect(hex(prk)).toBe("077709362c2e32df0ddc3f0dc47bba6390b6c73bb50f9c3122ec844ad7c2b3e5");
    expect(hex(hkdfExpand("sha256", prk, h("f0f1f2f3f4f5f6f7f8f9"), 42))).toBe(
      "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865",
    );
  });

  test("test case 3: empty salt means Hash.length zeros", () => {
    const prk = hkdfExtract("sha256", undefined, h("0b".repeat(22)));
    expect(hex(prk)).toBe("19ef24a32c717b167f33a91d6f648bdf96596776afdb6377ac434c1c293ccb04");
    expect(hex(hkdfExpand("sha256", prk, new Uint8Array(0), 42))).toBe(
      "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8",
    );
  });
});

describe("RFC 8448 §3: simple 1-RTT handshake", () => {
  const early = earlySecret("sha256", ZERO32);
  const ecdhe = h("8bd4054fb55b9d63fdfbacf9f04b9f0d35e6d63f537563efd46272900f89492d");

  test("early secret and the derived salt", () => {
    expect(hex(early)).toBe("33ad0a1c607ec03b09e6cd9893680ce210adf300aa1f2660e1b22e10f170f92a");
    expect(hex(deriveSecret("sha256", early, "derived", digest("sha256")))).toBe(
      "6f2615a108c702c5678f54fc9dbab69716c076189c48250cebeac3576c3611ba",
    );
  });

  test("HKDF-Expand-Label encodes length, 'tls13 ' label and context", () => {
    // Derive-Secret(early, "derived", "") is HKDF-Expand-Label(early, "derived", SHA-256(""), 32).
    expect(hex(hkdfExpandLabel("sha256", early, "derived", digest("sha256"), 32))).toBe(
      "6f2615a108c702c5678f54fc9dbab69716c076189c48250cebeac3576c3611ba",
    );
  });

  test("handshake and master secrets", () => {
    const handshake = handshakeSecret("sha256", early, ecdhe);
    expect(hex(handshake)).toBe("1dc826e93606aa6fdc0aadc12f741b01046aa6b99f691ed221a9f0ca043fbeac");
    expect(hex(deriveSecret("sha256", handshake, "derived", digest("sha256")))).toBe(
      "43de77e0c77713859a944db9db2590b53190a65b3ee2e4f12dd7a0bb7ce254b4",
    );
    expect(hex(masterSecret("sha256", handshake))).toBe("18df06843d13a08bf2a449844c5f8a478001bc4d4c627984d5a41da8d0402919");
  });

  test("traffic keys and IVs from traffic secrets", () => {
    const serverHandshake = trafficKeys(TLS_AES_128_GCM_SHA256, h("b67b7d690cc16c4e75e54213cb2d37b4e9c912bcded9105d42befd59d391ad38"));
    expect(hex(serverHandshake.key)).toBe("3fce516009c21727d0f2e4e86ee403bc");
    expect(hex(serverHandshake.iv)).toBe("5d313eb2671276ee13000b30");
    const clientHandshake = trafficKeys(TLS_AES_128_GCM_SHA256, h("b3eddb126e067f35a780b3abf45e2d8f3b1a950738f52e9600746a0e27a55a21"));
    expect(hex(clientHandshake.key)).toBe("dbfaa693d1762c5b666af5d950258d01");
    expect(hex(clientHandshake.iv)).toBe("5bd3c71b836e0b76bb73265f");
    const clientApplication = trafficKeys(TLS_AES_128_GCM_SHA256, h("9e40646ce79a7f9dc05af8889bce6552875afa0b06df0087f792ebb7c17504a5"));
    expect(hex(clientApplication.key)).toBe("17422dda596ed5d9acd890e3c63f5051");
    expect(hex(clientApplication.iv)).toBe("5b78923dee08579033e523d9");
  });
});

describe("RFC 8448 §4: PSK binder (resumption PSK, same computation as the external binder)", () => {
  const psk = h("4ecd0eb6ec3b4d87f5d6028f922ca4c5851a277fd41311c9e62d2c9492e1c4f3");
  const early = earlySecret("sha256", psk);
  const binderKey = deriveSecret("sha256", early, "res binder", digest("sha256"));
  const truncatedHelloHash = h("63224b2e4573f2d3454ca84b9d009a04f6be9e05711a8396473aefa01e924a14");

  test("early secret from the PSK and the binder key", () => {
    expect(hex(early)).toBe("9b2188e9b2fc6d64d71dc329900e20bb41915000f678aa839cbb797cb7d8332c");
    expect(hex(binderKey)).toBe("69fe131a3bbad5d63c64eebcc30e395b9d8107726a13d074e389dbc8a4e47256");
  });

  test("finished key and binder", () => {
    expect(hex(hkdfExpandLabel("sha256", binderKey, "finished", new Uint8Array(0), 32))).toBe(
      "5588673e72cb59c87d220caffe94f2dea9a3b1609f7d50e90a48227db9ed7eaa",
    );
    expect(hex(finishedMac("sha256", binderKey, truncatedHelloHash))).toBe(
      "3add4fb2d8fdf822a0ca3cf7678ef5e88dae990141c5924d57bb6fa31b9e5f9d",
    );
  });

  test("external PSKs use the 'ext binder' label (value from OpenSSL's TLS13-KDF)", () => {
    // openssl kdf -keylen 32 -kdfopt digest:SHA256 -kdfopt mode:EXPAND_ONLY -kdfopt hexkey:<early>
    //   -kdfopt hexprefix:746c73313320 -kdfopt label:"ext binder" -kdfopt hexdata:<SHA-256("")> TLS13-KDF
    expect(hex(externalBinderKey("sha256", early))).toBe("ce30064fe130ccc35799d808397cadddc95f09730c23b65ff659bb16202f51aa");
  });
});

describe("Finished and KeyUpdate", () => {
  test("finished key of the RFC 8448 §3 server handshake traffic secret", () => {
    const serverSecret = h("b67b7d690cc16c4e75e54213cb2d37b4e9c912bcded9105d42befd59d391ad38");
    const finishedKey = hkdfExpandLabel("sha256", serverSecret, "finished", new Uint8Array(0), 32);
    expect(hex(finishedKey)).toBe("008d3b66f816ea559f96b537e885c31fc068bf492c652f01f288a1d8cdc19fc8");
  });

  test("KeyUpdate ratchet: 'traffic upd' (value from OpenSSL's TLS13-KDF)", () => {
    const secret = h("a11af9f05531f856ad47116b45a950328204b4f44bfb6b3a4b4f1f3fcb631643");
    expect(hex(nextTrafficSecret("sha256", secret))).toBe("51921b8aa3001976eb401d0a4319a8516416a6c56001a357e5d162031e84f916");
  });

  test("SHA-384 secrets are 48 bytes", () => {
    const early = earlySecret("sha384", new Uint8Array(48));
    expect(early.length).toBe(48);
    expect(deriveSecret("sha384", early, "derived", digest("sha384")).length).toBe(48);
  });
});
