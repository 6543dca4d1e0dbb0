/**
 * Oracle test: packets our encoder produced (obfuscated with a key) are dissected by Debian's
 * tshark, and every field tshark prints must equal what we encoded. Covers every body type, the
 * START data layouts, every accounting flag combination, both minor versions, the unencrypted
 * and single-connect flags, and a frame split across TCP segments.
 */
import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  AcctFlags,
  AcctStatus,
  AuthenAction,
  AuthenService,
  AuthenStatus,
  AuthenType,
  AuthorStatus,
  Flags,
  PacketType,
  VERSION_DEFAULT,
  encodeAcctReply,
  encodeAcctRequest,
  encodeAuthenContinue,
  encodeAuthenReply,
  encodeAuthenStart,
  encodeAuthorReply,
  encodeAuthorRequest,
  encodeChallengeResponse,
  encodePacket,
  formatArg,
  minorVersionFor,
  type AcctReply,
  type AcctRequest,
  type Arg,
  type AuthenContinue,
  type AuthenReply,
  type AuthenStart,
  type AuthorReply,
  type AuthorRequest,
} from "../../src/protocol";
import { writeConnectionCapture, type Segment } from "../support/pcap-writer";
import { havePeer } from "../support/peer";

const KEY = "oracle-key-7";
const SERVER_PORT = 4949;
const key = new TextEncoder().encode(KEY);
const ascii = (s: string) => new TextEncoder().encode(s);
const hex = (n: number) => `0x${n.toString(16).padStart(2, "0")}`;

type Fields = Record<string, string[]>;

/** One packet to write, and the tshark fields it must produce. */
interface Case {
  fromClient: boolean;
  frame: Uint8Array;
  fields: Fields;
}

let sessionId = 0x1000;

/** Builds the packets of one session: header fields are derived from each encoded header. */
function session(type: PacketType, version: number, flags: number, bodies: { body: Uint8Array; fields: Fields }[]): Case[] {
  sessionId += 0x01010101;
  return bodies.map(({ body, fields }, i) => {
    const seqNo = i + 1;
    const frame = encodePacket({ version, type, seqNo, flags, sessionId }, body, key);
    return {
      fromClient: seqNo % 2 === 1,
      frame,
      fields: {
        "tacplus.majvers": [String(version)],
        "tacplus.minvers": [String(version & 0x0f)],
        "tacplus.type": [String(type)],
        "tacplus.seqno": [String(seqNo)],
        "tacplus.flags": [hex(flags)],
        "tacplus.flags.unencrypted": [flags & Flags.Unencrypted ? "1" : "0"],
        "tacplus.flags.singleconn": [flags & Flags.SingleConnect ? "1" : "0"],
        "tacplus.session_id": [String(sessionId)],
        "tacplus.packet_len": [String(body.length)],
        ...fields,
      },
    };
  });
}

function startFields(s: AuthenStart): Fields {
  const fields: Fields = {
    "tacplus.authen_action": [String(s.action)],
    "tacplus.privilege_level": [String(s.privLvl)],
    "tacplus.authentication_type": [String(s.authenType)],
    "tacplus.service": [String(s.service)],
    "tacplus.user_len": [String(ascii(s.user).length)],
    "tacplus.port_len": [String(ascii(s.port).length)],
    "tacplus.address_len": [String(ascii(s.remAddr).length)],
  };
  if (s.user) fields["tacplus.user"] = [s.user];
  if (s.port) fields["tacplus.port"] = [s.port];
  if (s.remAddr) fields["tacplus.remote_address"] = [s.remAddr];
  return fields;
}

function start(s: AuthenStart, dataFields: Fields = {}) {
  return { body: encodeAuthenStart(s), fields: { ...startFields(s), ...dataFields } };
}

function reply(r: AuthenReply) {
  const fields: Fields = {
    "tacplus.body_authen_rep.status": [hex(r.status)],
    "tacplus.body_authen_rep.flags": [hex(r.flags)],
    "tacplus.body_authen_rep.server_msg_len": [String(ascii(r.serverMsg).length)],
    "tacplus.body_authen_rep_server.data_len": [String(r.data.length)],
  };
  if (r.serverMsg) fields["tacplus.body_authen_rep.server_msg"] = [r.serverMsg];
  return { body: encodeAuthenReply(r), fields };
}

function cont(c: AuthenContinue) {
  const fields: Fields = {
    "tacplus.body_authen_req_cont.flags": [hex(c.flags)],
    "tacplus.body_authen_req_cont.user_length": [String(c.userMsg.length)],
    "tacplus.body_authen_req_cont.data_length": [String(c.data.length)],
  };
  if (c.userMsg.length) fields["tacplus.body_authen_req_cont.user"] = [new TextDecoder().decode(c.userMsg)];
  return { body: encodeAuthenContinue(c), fields };
}

function argFields(args: Arg[]): Fields {
  return args.length ? { "tacplus.arg_value": args.map(formatArg), "tacplus.arg_length": args.map((a) => String(ascii(formatArg(a)).length)) } : {};
}

function requestFields(r: AuthorRequest): Fields {
  return {
    "tacplus.privilege_level": [String(r.privLvl)],
    "tacplus.authentication_type": [String(r.authenType)],
    "tacplus.service": [String(r.authenService)],
    "tacplus.user": [r.user],
    "tacplus.port": [r.port],
    "tacplus.remote_address": [r.remAddr],
    ...argFields(r.args),
  };
}

function authorRequest(r: AuthorRequest) {
  return {
    body: encodeAuthorRequest(r),
    fields: { ...requestFields(r), "tacplus.body_author_req.auth_method": [hex(r.authenMethod)], "tacplus.body_author_req.arg_count": [String(r.args.length)] },
  };
}

function authorReply(r: AuthorReply) {
  return {
    body: encodeAuthorReply(r),
    fields: {
      "tacplus.body_author_rep.auth_status": [hex(r.status)],
      "tacplus.body_author_rep.arg_count": [String(r.args.length)],
      "tacplus.body_author_rep_server.msg_len": [String(ascii(r.serverMsg).length)],
      "tacplus.body_author_rep_server.data_len": [String(ascii(r.data).length)],
      ...argFields(r.args),
    },
  };
}

function acctRequest(r: AcctRequest) {
  return {
    body: encodeAcctRequest(r),
    fields: {
      ...requestFields(r),
      "tacplus.acct.flags": [hex(r.flags)],
      "tacplus.acct.flags.start": [r.flags & AcctFlags.Start ? "1" : "0"],
      "tacplus.acct.flags.stop": [r.flags & AcctFlags.Stop ? "1" : "0"],
      "tacplus.acct.flags.watchdog": [r.flags & AcctFlags.Watchdog ? "1" : "0"],
      "tacplus.acct.auth_method": [hex(r.authenMethod)],
      "tacplus.acct.arg_count": [String(r.args.length)],
    },
  };
}

function acctReply(r: AcctReply) {
  const fields: Fields = {
    "tacplus.body_acct.status": [hex(r.status)],
    "tacplus.body_acct.msg_len": [String(ascii(r.serverMsg).length)],
    "tacplus.body_acct.data_len": [String(ascii(r.data).length)],
  };
  if (r.serverMsg) fields["tacplus.body_acct.server_msg"] = [r.serverMsg];
  if (r.data) fields["tacplus.body_acct.data"] = [r.data];
  return { body: encodeAcctReply(r), fields };
}

const login = { action: AuthenAction.Login, privLvl: 1, service: AuthenService.Login, user: "alice", port: "tty0", remAddr: "192.0.2.7" };
const pap = { ...login, authenType: AuthenType.Pap, data: ascii("alicepw") };
const chap = { pppId: 9, challenge: ascii("CHALLENGE"), response: ascii("R".repeat(16)) };
const mschap = { pppId: 3, challenge: ascii("8bytes!!"), response: ascii("M".repeat(49)) };
const request: AuthorRequest = {
  authenMethod: 6,
  privLvl: 15,
  authenType: AuthenType.Ascii,
  authenService: AuthenService.Login,
  user: "bob",
  port: "vty3",
  remAddr: "2001:db8::1",
  args: [
    { name: "service", value: "shell", mandatory: true },
    { name: "cmd", value: "show", mandatory: true },
    { name: "cmd-arg", value: "running-config", mandatory: false },
  ],
};
const ok = (status: AuthenStatus) => reply({ status, flags: 0, serverMsg: "", data: new Uint8Array(0) });

const cases: Case[] = [
  ...session(PacketType.Authentication, minorVersionFor(pap.action, pap.authenType), 0, [
    start(pap, { "tacplus.auth_password": ["alicepw"], "tacplus.password_length": ["7"] }),
    ok(AuthenStatus.Pass),
  ]),
  ...session(PacketType.Authentication, VERSION_DEFAULT, 0, [
    start({ ...login, authenType: AuthenType.Ascii, user: "", data: new Uint8Array(0) }),
    reply({ status: AuthenStatus.GetUser, flags: 0, serverMsg: "Username: ", data: new Uint8Array(0) }),
    cont({ flags: 0, userMsg: ascii("alice"), data: new Uint8Array(0) }),
    reply({ status: AuthenStatus.GetPass, flags: 1, serverMsg: "Password: ", data: ascii("xy") }),
    cont({ flags: 1, userMsg: ascii("wrong"), data: ascii("abort reason") }),
    reply({ status: AuthenStatus.Fail, flags: 0, serverMsg: "Authentication failed", data: new Uint8Array(0) }),
  ]),
  ...session(PacketType.Authentication, minorVersionFor(AuthenAction.Login, AuthenType.Chap), Flags.SingleConnect, [
    start(
      { ...login, authenType: AuthenType.Chap, service: AuthenService.Ppp, data: encodeChallengeResponse(AuthenType.Chap, chap) },
      { "tacplus.chap.id": ["9"], "tacplus.chap.challenge": ["CHALLENGE"], "tacplus.chap.response": ["R".repeat(16)] },
    ),
    ok(AuthenStatus.Restart),
  ]),
  ...session(PacketType.Authentication, minorVersionFor(AuthenAction.Login, AuthenType.MsChap), 0, [
    start(
      { ...login, authenType: AuthenType.MsChap, service: AuthenService.Ppp, data: encodeChallengeResponse(AuthenType.MsChap, mschap) },
      { "tacplus.mschap.id": ["3"], "tacplus.mschap.challenge": ["8bytes!!"], "tacplus.mschap.response": ["M".repeat(49)] },
    ),
    ok(AuthenStatus.Error),
  ]),
  ...session(PacketType.Authentication, VERSION_DEFAULT, Flags.Unencrypted, [
    start({ ...login, action: AuthenAction.ChangePass, authenType: AuthenType.Ascii, privLvl: 15, service: AuthenService.Enable, data: new Uint8Array(0) }),
    reply({ status: AuthenStatus.Follow, flags: 0, serverMsg: "", data: ascii("@192.0.2.9") }),
  ]),
  ...session(PacketType.Authorization, VERSION_DEFAULT, Flags.SingleConnect, [
    authorRequest(request),
    authorReply({ status: AuthorStatus.PassAdd, args: [{ name: "priv-lvl", value: "15", mandatory: true }, { name: "idle", value: "5", mandatory: false }], serverMsg: "ok", data: "log" }),
  ]),
  ...session(PacketType.Authorization, VERSION_DEFAULT, 0, [
    authorRequest({ ...request, authenMethod: 1, args: [{ name: "service", value: "ppp", mandatory: true }] }),
    authorReply({ status: AuthorStatus.Fail, args: [], serverMsg: "denied", data: "" }),
  ]),
  ...[
    [AcctFlags.Start, AcctStatus.Success],
    [AcctFlags.Stop, AcctStatus.Error],
    [AcctFlags.Watchdog, AcctStatus.Follow],
    [AcctFlags.Watchdog | AcctFlags.Start, AcctStatus.Success],
  ].flatMap(([flags, status]) =>
    session(PacketType.Accounting, VERSION_DEFAULT, 0, [
      acctRequest({ ...request, flags: flags!, args: [{ name: "task_id", value: String(flags), mandatory: true }, ...request.args] }),
      acctReply({ status: status!, serverMsg: status === AcctStatus.Success ? "" : "server says", data: status === AcctStatus.Error ? "detail" : "" }),
    ]),
  ),
];

/** Interleaves the sessions' packets on one TCP connection; one frame is split across two segments. */
function segments(): Segment[] {
  const out: Segment[] = cases.map((c) => ({ fromClient: c.fromClient, payload: c.frame }));
  const split = out.findIndex((s) => s.payload.length > 40);
  const whole = out[split]!;
  out.splice(split, 1, { fromClient: whole.fromClient, payload: whole.payload.subarray(0, 17) }, { fromClient: whole.fromClient, payload: whole.payload.subarray(17) });
  return out;
}

const FIELDS = [...new Set(cases.flatMap((c) => Object.keys(c.fields)))];
const available = havePeer("tshark");
const dir = mkdtempSync(join(tmpdir(), "tshark-oracle-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function tshark(file: string): Fields[] {
  const run = Bun.spawnSync(
    ["tshark", "-n", "-r", file, "-d", `tcp.port==${SERVER_PORT},tacplus`, "-o", `tacplus.key:${KEY}`, "-Y", "tacplus", "-T", "json", "-e", "_ws.malformed", ...FIELDS.flatMap((f) => ["-e", f])],
    { timeout: 20_000, env: { ...process.env, LC_ALL: "C" } },
  );
  // As root tshark warns on stderr ("Running as user root ..."); only stdout and the exit code matter.
  if (run.exitCode !== 0) throw new Error(`tshark exited ${run.exitCode}: ${run.stderr.toString().slice(0, 500)}`);
  const packets = JSON.parse(run.stdout.toString()) as { _source: { layers: Fields } }[];
  return packets.map((p) => p._source.layers);
}

test.skipIf(!available)("tshark dissects every packet we encoded into exactly the fields we encoded", async () => {
  const file = join(dir, "oracle.pcap");
  await Bun.write(file, writeConnectionCapture({ format: "pcap", link: "ethernet", ipVersion: 4, clientPort: 40001, serverPort: SERVER_PORT, segments: segments() }));
  const dissected = tshark(file);
  expect(dissected.length).toBe(cases.length);
  for (const [i, c] of cases.entries()) {
    const layers = dissected[i]!;
    expect(layers["_ws.malformed"]).toBeUndefined();
    const shown = Object.fromEntries(Object.keys(c.fields).map((f) => [f, layers[f]]));
    expect({ packet: i, ...shown }).toEqual({ packet: i, ...c.fields });
  }
}, 30_000);

test.skipIf(!available)("with the wrong key tshark cannot read our bodies (the key really is used)", async () => {
  const file = join(dir, "oracle-wrong.pcap");
  await Bun.write(file, writeConnectionCapture({ format: "pcap", link: "ethernet", ipVersion: 4, clientPort: 40002, serverPort: SERVER_PORT, segments: segments() }));
  const run = Bun.spawnSync(["tshark", "-n", "-r", file, "-d", `tcp.port==${SERVER_PORT},tacplus`, "-o", "tacplus.key:not-the-key", "-Y", "tacplus", "-T", "json", "-e", "tacplus.user"], {
    timeout: 20_000,
  });
  const users = (JSON.parse(run.stdout.toString()) as { _source: { layers: Fields } }[]).flatMap((p) => p._source.layers["tacplus.user"] ?? []);
  // Only the unencrypted session's user is readable; the others come out as garbage, if at all.
  expect(users.filter((u) => u === "alice" || u === "bob")).toEqual(["alice"]);
}, 30_000);
