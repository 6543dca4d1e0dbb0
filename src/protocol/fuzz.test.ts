/**
 * Seeded, bounded randomized test: garbage, truncated and bit-flipped input must only ever yield
 * a value or a CodecError, never another exception (RangeError from a DataView, TypeError, ...).
 */
import { expect, test } from "bun:test";
import { decodeAcctReply, decodeAcctRequest, encodeAcctReply, encodeAcctRequest } from "./acct";
import { decodeAuthenContinue, decodeAuthenReply, decodeAuthenStart, encodeAuthenContinue, encodeAuthenReply, encodeAuthenStart } from "./authen";
import { decodeAuthorReply, decodeAuthorRequest, encodeAuthorReply, encodeAuthorRequest } from "./author";
import { PacketType, VERSION_DEFAULT } from "./constants";
import { CodecError } from "./errors";
import { FrameReader } from "./frame-reader";
import { decodePacket, encodePacket } from "./packet";
import { replyStatus } from "./replies";
import { prng } from "../../test/support/prng";


const key = new TextEncoder().encode("fuzz-key");
const args = [{ name: "service", value: "shell", mandatory: true }, { name: "cmd", value: "show", mandatory: false }];
const common = { authenMethod: 6, privLvl: 1, authenType: 1, authenService: 1, user: "alice", port: "tty1", remAddr: "10.0.0.1", args };
const bodies: [PacketType, number, Uint8Array][] = [
  [PacketType.Authentication, 1, encodeAuthenStart({ action: 1, privLvl: 1, authenType: 2, service: 1, user: "alice", port: "p", remAddr: "r", data: new Uint8Array(8) })],
  [PacketType.Authentication, 2, encodeAuthenReply({ status: 5, flags: 1, serverMsg: "Password: ", data: new Uint8Array(3) })],
  [PacketType.Authentication, 3, encodeAuthenContinue({ flags: 0, userMsg: new Uint8Array(7), data: new Uint8Array(0) })],
  [PacketType.Authorization, 1, encodeAuthorRequest(common)],
  [PacketType.Authorization, 2, encodeAuthorReply({ status: 1, args, serverMsg: "m", data: "d" })],
  [PacketType.Accounting, 1, encodeAcctRequest({ ...common, flags: 2 })],
  [PacketType.Accounting, 2, encodeAcctReply({ status: 1, serverMsg: "m", data: "d" })],
];
const decoders = [decodeAuthenStart, decodeAuthenReply, decodeAuthenContinue, decodeAuthorRequest, decodeAuthorReply, decodeAcctRequest, decodeAcctReply];
const frames = bodies.map(([type, seqNo, body]) => encodePacket({ version: VERSION_DEFAULT, type, seqNo, flags: 0, sessionId: 77 }, body, key));

function mutate(input: Uint8Array, random: () => number): Uint8Array {
  const pick = (n: number) => Math.floor(random() * n);
  switch (pick(4)) {
    case 0: // truncate
      return input.slice(0, pick(input.length));
    case 1: {
      // flip a few bits
      const out = input.slice();
      for (let i = 1 + pick(6); i > 0; i--) out[pick(out.length)]! ^= 1 << pick(8);
      return out;
    }
    case 2: // garbage
      return Uint8Array.from({ length: pick(80) }, () => pick(256));
    default: {
      // overwrite one byte with an extreme value (lengths, counts, enums)
      const out = input.slice();
      out[pick(out.length)] = [0, 1, 0x7f, 0x80, 0xff][pick(5)]!;
      return out;
    }
  }
}

/** `npm run fuzz` (scripts/fuzz.ts) replays with other seeds and more cases through the environment. */
const SEED = Number(process.env.FUZZ_SEED ?? 0x5eed);
const CASES = Number(process.env.FUZZ_CASES ?? 3000);

/** Runs `fn`; returns the unexpected error, if any. */
function unexpected(fn: () => unknown): unknown {
  try {
    fn();
  } catch (e) {
    if (!(e instanceof CodecError)) return e;
  }
  return undefined;
}

test(`randomized malformed frames and bodies only ever yield CodecError (seed ${SEED}, ${CASES} cases)`, () => {
  const random = prng(SEED);
  const failures: string[] = [];
  const check = (what: string, input: Uint8Array, fn: () => unknown) => {
    const error = unexpected(fn);
    if (error) failures.push(`${what} ${Buffer.from(input).toString("hex")}: ${String(error)}`);
  };
  let decodedBodies = 0;
  for (let i = 0; i < CASES; i++) {
    const source = random() < 0.5 ? frames[i % frames.length]! : bodies[i % bodies.length]![2];
    const input = mutate(source, random);
    for (const decode of decoders) check(decode.name, input, () => decode(input));
    for (const type of [1, 2, 3]) check("replyStatus", input, () => replyStatus(type, input));
    check("decodePacket", input, () => {
      const packet = decodePacket(input, key, 1000);
      decodedBodies++;
      for (const decode of decoders) check(decode.name, packet.body, () => decode(packet.body));
    });
    check("FrameReader", input, () => {
      const reader = new FrameReader(1000);
      for (let at = 0; at < input.length; at += 1 + Math.floor(random() * 9)) reader.push(input.subarray(at, at + 9));
    });
  }
  expect(failures.slice(0, 5)).toEqual([]);
  // The mutations must reach the body decoders, not just fail on the header.
  expect(decodedBodies).toBeGreaterThan(CASES / 10);
});

test("the unmutated seeds decode (the randomized test starts from valid input)", () => {
  for (const [i, frame] of frames.entries()) {
    const packet = decodePacket(frame, key);
    expect(decoders[i]!(packet.body)).toBeDefined();
  }
});
