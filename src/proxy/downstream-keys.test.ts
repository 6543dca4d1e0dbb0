import { expect, test } from "bun:test";
import { Secret } from "../common/secret";
import { AuthenStatus, encodeAuthenReply, encodePacket, Flags, PacketType } from "../protocol";
import { candidateKeys, decodeWithKeys, DownstreamKeyError, type DownstreamKey } from "./downstream-keys";

/** Secrets compare equal under toEqual (no visible fields), so compare what they reveal. */
const shown = (keys: DownstreamKey[]) => keys.map((key) => (key ? new TextDecoder().decode(key.reveal()) : "none"));

const A = Secret.fromText("alpha");
const B = Secret.fromText("bravo");

test("--proxy-shared-secret is the only candidate", () => {
  expect(shown(candidateKeys({ proxySharedSecret: () => B, serverSecrets: () => [A, undefined], activeServer: () => 0 }))).toEqual(["bravo"]);
});

test("server secrets: the active server first, duplicates (by value) and repeated 'none' removed", () => {
  const sameAsA = Secret.fromText("alpha");
  const keys = candidateKeys({ proxySharedSecret: () => undefined, serverSecrets: () => [A, sameAsA, undefined, B, undefined], activeServer: () => 3 });
  expect(shown(keys)).toEqual(["bravo", "alpha", "none"]);
});

test("an active index out of range keeps preference order", () => {
  expect(shown(candidateKeys({ proxySharedSecret: () => undefined, serverSecrets: () => [A, B], activeServer: () => 7 }))).toEqual(["alpha", "bravo"]);
});

test("a reply-shaped body is not accepted as a client START (the parse is the key check)", () => {
  const body = encodeAuthenReply({ status: AuthenStatus.Pass, flags: 0, serverMsg: "", data: new Uint8Array() });
  const frame = encodePacket({ version: 0xc0, type: PacketType.Authentication, seqNo: 1, flags: Flags.Unencrypted, sessionId: 1 }, body);
  expect(() => decodeWithKeys(frame, [undefined], true, 65536)).toThrow();
  expect(() => decodeWithKeys(frame, [A], true, 65536)).toThrow(DownstreamKeyError);
});
