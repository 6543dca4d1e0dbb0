/** Connection without sockets: a scripted in-memory stream and a manual clock. */
import { expect, test } from "bun:test";
import { Cancellation } from "../common/cancellation";
import { silentLogger } from "../common/log";
import { Secret } from "../common/secret";
import {
  AuthenContinueFlags,
  AuthenStatus,
  AuthorStatus,
  decodeAuthenContinue,
  decodePacket,
  encodeAuthenReply,
  encodeAuthorReply,
  encodePacket,
  Flags,
  PacketType,
  VERSION_DEFAULT,
} from "../protocol";
import type { ByteStream, Connector, StreamHandlers } from "../transport/types";
import { Connection, type ServerContext } from "./connection";
import { newCounters } from "./counters";
import { ExchangeError } from "./errors";
import { ManualClock, sequentialRandom } from "./manual-clock";
import type { ReplyPacket, UpstreamServer } from "./types";

const KEY = "unit-key";
const keyBytes = new TextEncoder().encode(KEY);
const PASS = encodeAuthorReply({ status: AuthorStatus.PassAdd, args: [], serverMsg: "", data: "" });

class Wire {
  handlers: StreamHandlers | undefined;
  written: Uint8Array[] = [];
  closed = false;
  readonly connector: Connector = {
    connect: async (_target, handlers) => {
      this.handlers = handlers;
      const stream: ByteStream = { write: (p) => void this.written.push(p), close: () => void (this.closed = true), remote: "test:49" };
      return stream;
    },
  };

  /** The request written last, decoded with the test key. */
  last(key: Uint8Array | undefined = keyBytes) {
    return decodePacket(this.written.at(-1)!, key);
  }

  reply(sessionId: number, seqNo: number, flags: number, body = PASS, key: Uint8Array | undefined = keyBytes): void {
    this.handlers!.onData(encodePacket({ version: VERSION_DEFAULT, type: PacketType.Authorization, seqNo, flags, sessionId }, body, key));
  }
}

function setup(server: Partial<UpstreamServer> = {}, offer = true) {
  const clock = new ManualClock();
  const counters = newCounters();
  const changes: string[] = [];
  const ended = { sessions: 0 };
  const ctx: ServerContext = {
    server: { name: "unit", host: "127.0.0.1", port: 49, sharedSecret: Secret.fromText(KEY), security: { kind: "tcp" }, singleConnection: true, timeoutMs: 1000, ...server },
    counters,
    clock,
    random: sequentialRandom(100),
    log: silentLogger,
    maxBodyBytes: undefined,
    onStateChange: (c) => changes.push(c.state.name),
    onSessionEnded: () => void ended.sessions++,
  };
  const wire = new Wire();
  const connection = new Connection(ctx, offer);
  return { clock, counters, changes, wire, connection, ended };
}

function outcome(promise: Promise<ReplyPacket>) {
  const result: { reply?: ReplyPacket; error?: ExchangeError } = {};
  promise.then(
    (reply) => (result.reply = reply),
    (error: ExchangeError) => (result.error = error),
  );
  return result;
}

const tick = () => new Promise((resolve) => setTimeout(resolve, 0));

test("negotiation: the first packet offers single-connect and the reply's flag decides", async () => {
  const { wire, connection, changes } = setup();
  await connection.open(wire.connector, 100);
  const slot = connection.startSession(PacketType.Authorization, VERSION_DEFAULT);
  const pending = outcome(connection.send(slot, new Uint8Array([0]), Number.MAX_SAFE_INTEGER));
  expect(wire.last().header).toMatchObject({ seqNo: 1, sessionId: 100, flags: Flags.SingleConnect });
  expect(connection.state.name).toBe("Negotiating");
  wire.reply(100, 2, Flags.SingleConnect);
  await tick();
  expect(pending.reply?.seqNo).toBe(2);
  expect(changes).toEqual(["Ready", "Negotiating", "Multiplexing"]);
  expect(connection.sessionsInFlight).toBe(0); // authorization ends with its reply
});

test("without the flag in the reply the connection serves its one session and closes", async () => {
  const { wire, connection, counters } = setup();
  await connection.open(wire.connector, 100);
  const slot = connection.startSession(PacketType.Authorization, VERSION_DEFAULT);
  const pending = outcome(connection.send(slot, new Uint8Array([0]), Number.MAX_SAFE_INTEGER));
  wire.reply(100, 2, 0);
  await tick();
  expect(pending.reply).toBeDefined();
  expect(connection.state.name).toBe("Closed");
  expect(wire.closed).toBe(true);
  expect(counters.connectionCloses).toBe(1);
});

test("without a shared secret packets carry the unencrypted flag", async () => {
  const { wire, connection } = setup({ sharedSecret: undefined }, false);
  await connection.open(wire.connector, 100);
  const slot = connection.startSession(PacketType.Authorization, VERSION_DEFAULT);
  void connection.send(slot, new Uint8Array([7]), Number.MAX_SAFE_INTEGER).catch(() => {});
  expect(wire.last(undefined).header.flags).toBe(Flags.Unencrypted);
});

test("a reply with the wrong seq_no fails that session only; the connection stays", async () => {
  const { wire, connection } = setup();
  await connection.open(wire.connector, 100);
  const first = connection.startSession(PacketType.Authorization, VERSION_DEFAULT);
  void connection.send(first, new Uint8Array([0]), Number.MAX_SAFE_INTEGER);
  wire.reply(100, 2, Flags.SingleConnect);
  await tick();
  const slot = connection.startSession(PacketType.Authorization, VERSION_DEFAULT);
  const pending = outcome(connection.send(slot, new Uint8Array([0]), Number.MAX_SAFE_INTEGER));
  wire.reply(101, 4, Flags.SingleConnect);
  await tick();
  expect(pending.error?.kind).toBe("protocol");
  expect(pending.error?.message).toContain("seq_no 4, expected type 2 seq_no 2");
  expect(connection.state.name).toBe("Multiplexing");
});

test("a reply for an unknown session is dropped", async () => {
  const { wire, connection, counters } = setup();
  await connection.open(wire.connector, 100);
  const slot = connection.startSession(PacketType.Authorization, VERSION_DEFAULT);
  const pending = outcome(connection.send(slot, new Uint8Array([0]), Number.MAX_SAFE_INTEGER));
  wire.reply(999, 2, Flags.SingleConnect);
  await tick();
  expect(pending.reply ?? pending.error).toBeUndefined();
  expect(counters.messagesReceived).toBe(1);
  expect(connection.state.name).toBe("Negotiating");
});

test("an unobfuscated reply while a secret is configured closes the connection", async () => {
  const { wire, connection, counters } = setup();
  await connection.open(wire.connector, 100);
  const slot = connection.startSession(PacketType.Authorization, VERSION_DEFAULT);
  const pending = outcome(connection.send(slot, new Uint8Array([0]), Number.MAX_SAFE_INTEGER));
  wire.reply(100, 2, Flags.Unencrypted, PASS, undefined);
  await tick();
  expect(pending.error?.kind).toBe("protocol");
  expect(pending.error?.message).toContain("RFC 8907 §4.5");
  expect(counters.connectionAborts).toBe(1);
});

test("a timeout on a multiplexed connection fails one session; the connection survives while it hears from the server", async () => {
  const { wire, connection, clock, counters } = setup();
  await connection.open(wire.connector, 100);
  const first = connection.startSession(PacketType.Authorization, VERSION_DEFAULT);
  void connection.send(first, new Uint8Array([0]), Number.MAX_SAFE_INTEGER);
  wire.reply(100, 2, Flags.SingleConnect);
  const slow = connection.startSession(PacketType.Authorization, VERSION_DEFAULT);
  const fast = connection.startSession(PacketType.Authorization, VERSION_DEFAULT);
  const slowOutcome = outcome(connection.send(slow, new Uint8Array([0]), Number.MAX_SAFE_INTEGER));
  const fastOutcome = outcome(connection.send(fast, new Uint8Array([0]), Number.MAX_SAFE_INTEGER));
  clock.advance(500);
  wire.reply(fast.id, 2, Flags.SingleConnect);
  clock.advance(499);
  await tick();
  expect(slowOutcome.error).toBeUndefined();
  clock.advance(1);
  await tick();
  expect(fastOutcome.reply).toBeDefined();
  expect(slowOutcome.error?.kind).toBe("timeout");
  expect(counters.connectionTimeouts).toBe(1);
  expect(connection.state.name).toBe("Multiplexing");
  // A late reply to the timed-out session is dropped.
  wire.reply(slow.id, 2, Flags.SingleConnect);
  expect(connection.state.name).toBe("Multiplexing");
});

test("a timeout with nothing received since the request closes a multiplexed connection as dead", async () => {
  const { wire, connection, clock, counters } = setup();
  await connection.open(wire.connector, 100);
  const first = connection.startSession(PacketType.Authorization, VERSION_DEFAULT);
  void connection.send(first, new Uint8Array([0]), Number.MAX_SAFE_INTEGER);
  wire.reply(100, 2, Flags.SingleConnect);
  clock.advance(10);
  const a = connection.startSession(PacketType.Authorization, VERSION_DEFAULT);
  const b = connection.startSession(PacketType.Authorization, VERSION_DEFAULT);
  const aOutcome = outcome(connection.send(a, new Uint8Array([0]), Number.MAX_SAFE_INTEGER));
  clock.advance(10);
  const bOutcome = outcome(connection.send(b, new Uint8Array([0]), Number.MAX_SAFE_INTEGER));
  clock.advance(1000);
  await tick();
  expect(aOutcome.error?.kind).toBe("timeout");
  expect(bOutcome.error).toMatchObject({ kind: "lost", delivered: true });
  expect(connection.state.name).toBe("Closed");
  expect(counters.connectionAborts).toBe(1);
});

test("the caller's earlier deadline fails the exchange without counting a server timeout", async () => {
  const { wire, connection, clock, counters } = setup();
  await connection.open(wire.connector, 100);
  const slot = connection.startSession(PacketType.Authorization, VERSION_DEFAULT);
  const pending = outcome(connection.send(slot, new Uint8Array([0]), clock.now() + 100));
  clock.advance(100);
  await tick();
  expect(pending.error?.kind).toBe("deadline");
  expect(counters.connectionTimeouts).toBe(0);
  // The unanswered negotiation leaves the connection unusable.
  expect(connection.state.name).toBe("Closed");
});

test("a peer close fails every session as lost and delivered", async () => {
  const { wire, connection, counters } = setup();
  await connection.open(wire.connector, 100);
  const slot = connection.startSession(PacketType.Authorization, VERSION_DEFAULT);
  const pending = outcome(connection.send(slot, new Uint8Array([0]), Number.MAX_SAFE_INTEGER));
  wire.handlers!.onClose(new Error("ECONNRESET"));
  await tick();
  expect(pending.error).toMatchObject({ kind: "lost", delivered: true });
  expect(counters.connectionAborts).toBe(1);
  const next = outcome(connection.send(slot, new Uint8Array([0]), Number.MAX_SAFE_INTEGER));
  await tick();
  expect(next.error?.delivered).toBe(false);
});

test("abort of an unfinished authentication on a shared connection sends CONTINUE with ABORT", async () => {
  const { wire, connection } = setup();
  await connection.open(wire.connector, 100);
  const slot = connection.startSession(PacketType.Authentication, VERSION_DEFAULT);
  void connection.send(slot, new Uint8Array([0]), Number.MAX_SAFE_INTEGER);
  const getPass = encodeAuthenReply({ status: AuthenStatus.GetPass, flags: 0, serverMsg: "Password:", data: new Uint8Array(0) });
  wire.handlers!.onData(encodePacket({ version: VERSION_DEFAULT, type: PacketType.Authentication, seqNo: 2, flags: Flags.SingleConnect, sessionId: slot.id }, getPass, keyBytes));
  await tick();
  connection.abort(slot);
  const abort = wire.last();
  expect(abort.header).toMatchObject({ type: PacketType.Authentication, seqNo: 3, sessionId: slot.id });
  expect(decodeAuthenContinue(abort.body).flags).toBe(AuthenContinueFlags.Abort);
  expect(connection.sessionsInFlight).toBe(0);
  const writes = wire.written.length;
  connection.abort(slot);
  expect(wire.written.length).toBe(writes);
});

test("a connection keeps its own copy of the key: wiping the configured secret does not break it", async () => {
  const secret = Secret.fromText(KEY);
  const { wire, connection } = setup({ sharedSecret: secret });
  await connection.open(wire.connector, 100);
  secret.wipe(); // a configuration reload replaced it
  const slot = connection.startSession(PacketType.Authorization, VERSION_DEFAULT);
  const pending = outcome(connection.send(slot, new Uint8Array([0]), Number.MAX_SAFE_INTEGER));
  expect(wire.last().header.seqNo).toBe(1);
  wire.reply(slot.id, 2, Flags.SingleConnect);
  await tick();
  expect(pending.reply).toBeDefined();
});

test("a request the caller gave up on a multiplexed connection keeps its session (and slot) until the reply or the server's timeout", async () => {
  const { wire, connection, clock, counters, ended } = setup();
  await connection.open(wire.connector, 100);
  const first = connection.startSession(PacketType.Authorization, VERSION_DEFAULT);
  void connection.send(first, new Uint8Array([0]), Number.MAX_SAFE_INTEGER);
  wire.reply(100, 2, Flags.SingleConnect);
  expect(ended.sessions).toBe(1);
  const cancellation = new Cancellation();
  const cancelled = connection.startSession(PacketType.Authorization, VERSION_DEFAULT);
  const cancelledOutcome = outcome(connection.send(cancelled, new Uint8Array([0]), Number.MAX_SAFE_INTEGER, cancellation));
  const late = connection.startSession(PacketType.Authorization, VERSION_DEFAULT);
  const lateOutcome = outcome(connection.send(late, new Uint8Array([0]), clock.now() + 100));
  cancellation.cancel(new Error("the caller went away"));
  clock.advance(100);
  await tick();
  expect(cancelledOutcome.error?.kind).toBe("cancelled");
  expect(lateOutcome.error?.kind).toBe("deadline");
  // The engine ends failed sessions; the server is still working on these two.
  connection.endSession(cancelled);
  connection.endSession(late);
  expect(ended.sessions).toBe(1);
  wire.reply(cancelled.id, 2, Flags.SingleConnect);
  expect(ended.sessions).toBe(2);
  clock.advance(900);
  await tick();
  expect(ended.sessions).toBe(3);
  expect(counters.connectionTimeouts).toBe(0);
  expect(connection.state.name).toBe("Multiplexing");
});
