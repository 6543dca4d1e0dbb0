/**
 * Every TACACS+ packet of every capture of real third-party clients and servers decodes with our
 * codec, re-encodes byte-identically, and the exchanges are the ones the captures README names.
 */
import { describe, expect, test } from "bun:test";
import { readdirSync } from "node:fs";
import {
  AcctStatus,
  AuthenStatus,
  AuthenType,
  AuthorStatus,
  Flags,
  PacketType,
  decodeAcctReply,
  decodeAcctRequest,
  decodeAuthenContinue,
  decodeAuthenReply,
  decodeAuthenStart,
  decodeAuthorReply,
  decodeAuthorRequest,
  decodePacket,
  encodeAcctReply,
  encodeAcctRequest,
  encodeAuthenContinue,
  encodeAuthenReply,
  encodeAuthenStart,
  encodeAuthorReply,
  encodeAuthorRequest,
  encodePacket,
  formatArg,
  type Packet,
} from "../../src/protocol";
import { CAPTURE_DIR, CAPTURE_KEY, readTacacsFlows, type TacacsFlow } from "../support/pcapng";

const key = new TextEncoder().encode(CAPTURE_KEY);
const text = (b: Uint8Array) => new TextDecoder().decode(b);

/** Decodes a body by packet type and direction, and re-encodes it with the matching encoder. */
function decodeBody(packet: Packet): { value: object; reencoded: Uint8Array } {
  const { type, seqNo } = packet.header;
  const fromClient = seqNo % 2 === 1;
  const b = packet.body;
  if (type === PacketType.Authentication) {
    if (seqNo === 1) return roundTrip(b, decodeAuthenStart, encodeAuthenStart);
    return fromClient ? roundTrip(b, decodeAuthenContinue, encodeAuthenContinue) : roundTrip(b, decodeAuthenReply, encodeAuthenReply);
  }
  if (type === PacketType.Authorization) {
    return fromClient ? roundTrip(b, decodeAuthorRequest, encodeAuthorRequest) : roundTrip(b, decodeAuthorReply, encodeAuthorReply);
  }
  return fromClient ? roundTrip(b, decodeAcctRequest, encodeAcctRequest) : roundTrip(b, decodeAcctReply, encodeAcctReply);
}

function roundTrip<T extends object>(body: Uint8Array, decode: (b: Uint8Array) => T, encode: (v: T) => Uint8Array) {
  const value = decode(body);
  return { value, reencoded: encode(value) };
}

/** One line per connection: what the client asked and how the server answered, e.g. "authen Pap alice alicepw -> Pass". */
function summarize(flow: TacacsFlow): string {
  const requests = flow.client.map((f) => decodePacket(f, key));
  const replies = flow.server.map((f) => decodePacket(f, key));
  const first = requests[0]!;
  const last = replies[replies.length - 1]!;
  switch (first.header.type) {
    case PacketType.Authentication: {
      const start = decodeAuthenStart(first.body);
      const typed = start.authenType === AuthenType.Pap ? [text(start.data)] : requests.slice(1).map((p) => text(decodeAuthenContinue(p.body).userMsg));
      const prompts = replies.slice(0, -1).map((p) => AuthenStatus[decodeAuthenReply(p.body).status]);
      return [`authen ${AuthenType[start.authenType]} ${start.user}`, ...prompts, ...typed, `-> ${AuthenStatus[decodeAuthenReply(last.body).status]}`].join(" ");
    }
    case PacketType.Authorization: {
      const reply = decodeAuthorReply(last.body);
      return [`author`, ...decodeAuthorRequest(first.body).args.map(formatArg), `-> ${AuthorStatus[reply.status]}`, ...reply.args.map(formatArg)].join(" ");
    }
    default: {
      const req = decodeAcctRequest(first.body);
      const args = req.args.filter((a) => a.name === "task_id").map(formatArg);
      return [`acct 0x${req.flags.toString(16)}`, ...args, `-> ${AcctStatus[decodeAcctReply(last.body).status]}`].join(" ");
    }
  }
}

/** Per capture: the exchanges of the captures README and the TACACS+ packet count tshark reports. */
const expected: Record<string, { exchanges: string[]; singleConnect: boolean; packets: number }> = {
  "pam_tacplus-pap-to-tac_plus.pcapng": {
    singleConnect: false,
    packets: 10,
    exchanges: [
      "authen Pap alice alicepw -> Pass",
      "author service=ppp protocol=ip -> PassAdd addr=10.1.2.3",
      "acct 0x2 task_id=2149 -> Success",
      "acct 0x4 task_id=2149 -> Success",
      "authen Pap alice wrongpw -> Fail",
    ],
  },
  "pam_tacplus-ascii-to-tac_plus.pcapng": {
    singleConnect: false,
    packets: 8,
    exchanges: ["authen Ascii alice GetPass alicepw -> Pass", "authen Ascii alice GetPass wrongpw -> Fail"],
  },
  "tactester-to-tac_plus.pcapng": {
    singleConnect: true,
    packets: 12,
    exchanges: [
      "author service=shell cmd=show cmd-arg=version -> PassAdd",
      "author service=shell cmd=show cmd-arg=running-config -> Fail",
      "acct 0x2 task_id=7 -> Success",
      "authen Pap alice alicepw -> Pass",
      "authen Ascii alice GetPass alicepw -> Pass",
    ],
  },
  "tactester-to-tac_plus-ng.pcapng": {
    singleConnect: true,
    packets: 12,
    exchanges: [
      "author service=shell cmd=show cmd-arg=version -> PassAdd",
      "author service=shell cmd=show cmd-arg=running-config -> Fail",
      "acct 0x2 task_id=8 -> Success",
      "authen Pap alice alicepw -> Pass",
      "authen Ascii alice GetPass nope -> Fail",
    ],
  },
};

const files = readdirSync(CAPTURE_DIR).filter((f) => f.endsWith(".pcapng"));

test("every capture is present and described", () => {
  expect(files.sort()).toEqual(Object.keys(expected).sort());
});

describe.each(files)("%s", (file) => {
  const flows = readTacacsFlows(CAPTURE_DIR + file);

  test("every packet decodes, and re-encoding yields byte-identical bodies and frames", () => {
    let packets = 0;
    for (const flow of flows) {
      for (const frame of [...flow.client, ...flow.server]) {
        const packet = decodePacket(frame, key);
        const { reencoded } = decodeBody(packet);
        expect(reencoded).toEqual(packet.body);
        const { length: _length, ...header } = packet.header;
        expect(encodePacket(header, reencoded, key)).toEqual(frame);
        packets++;
      }
      // One session per connection, client odd / server even, strictly alternating from 1.
      const seqs = [...flow.client, ...flow.server].map((f) => decodePacket(f, key).header).sort((a, b) => a.seqNo - b.seqNo);
      expect(seqs.map((h) => h.seqNo)).toEqual(seqs.map((_, i) => i + 1));
      expect(new Set(seqs.map((h) => h.sessionId)).size).toBe(1);
    }
    expect(packets).toBe(expected[file]!.packets);
  });

  test("the wrong key fails with a typed length-mismatch, never garbage", () => {
    const wrong = new TextEncoder().encode("labkey124");
    for (const flow of flows) {
      const packet = decodePacket(flow.client[0]!, wrong);
      expect(() => decodeBody(packet)).toThrow(/wrong shared secret\?/);
    }
  });
});

describe.each(Object.entries(expected))("exchanges in %s", (file, { exchanges, singleConnect }) => {
  const flows = readTacacsFlows(CAPTURE_DIR + file);
  test("match the captures README, in order", () => {
    expect(flows.map(summarize)).toEqual(exchanges);
  });
  test(`single-connect flag ${singleConnect ? "set both ways, session id 0" : "absent"}`, () => {
    for (const flow of flows) {
      for (const frame of [...flow.client, ...flow.server]) {
        const { header } = decodePacket(frame, key);
        expect((header.flags & Flags.SingleConnect) !== 0).toBe(singleConnect);
        if (singleConnect) expect(header.sessionId).toBe(0);
      }
    }
  });
});
