/**
 * The gRPC shim under hostile input, in process (startApiServer with a fake engine: an unhandled
 * error anywhere fails the run, and thousands of connections cost milliseconds, not a process).
 * 1. Targeted gRPC-level misbehaviour through node:http2, each with its expected status:
 *    compressed flag, bad flag, lying length prefixes, huge declared length, bad protobuf,
 *    a stream reset mid-message, more calls than --max-api-streams.
 * 2. Seeded, bounded fuzz of raw HTTP/2: valid calls mutated at frame level (bad lengths, types,
 *    stream ids, HPACK blocks, SETTINGS, window updates, resets mid-message, random bytes).
 * Afterwards no call lingers, nothing was logged at warn/error, memory stayed bounded and a
 * normal call succeeds. FUZZ_SEED and FUZZ_CASES override the seed and size (`npm run fuzz`).
 * 3. A shorter run of the same cases against the compiled agent (Bun's HTTP/2 inside the binary).
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import http2 from "node:http2";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startApiServer, type ApiServer } from "../../src/api";
import { callUnary } from "../../src/api/client";
import { AGENT_SERVICE, methodsOf } from "../../src/api/proto";
import type { Endpoint } from "../../src/common/endpoint";
import { recordingLogger } from "../../src/proxy/test-support";
import { startAgent } from "../support/agent-process";
import { FakeEngine, passReply } from "../support/api-fake-engine";
import { startTacacsServer } from "../support/tacacs-server";
import { FrameFlag, FrameType, PREFACE, frame, grpcHeaders, grpcMessage, headerBlock, settings, u32 } from "./h2-frames";
import { prng } from "../support/prng";

const SEED = Number(process.env.FUZZ_SEED ?? 0x6b1d);
const CASES = Number(process.env.FUZZ_CASES ?? 400);
const BATCH = 25;
const MAX_MESSAGE = 64 * 1024;
/** Also the per-peer share: every call here comes from this test's uid. */
const MAX_STREAMS = 16;

const ACCOUNTING = methodsOf(AGENT_SERVICE).find((m) => m.path.endsWith("/Accounting"))!;
const VALID = ACCOUNTING.requestType.encode(ACCOUNTING.requestType.fromObject({ user: "alice", port: "tty0", remoteAddress: "10.0.0.1", command: "show" })).finish();

const engine = new FakeEngine();
engine.answer = passReply;
const { logger, lines } = recordingLogger();
let dir: string;
let api: ApiServer;
let endpoint: Endpoint & { kind: "unix" };

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "grpc-fuzz-"));
  endpoint = { kind: "unix", path: join(dir, "api.sock") };
  api = await startApiServer({ engine, endpoint, socketMode: 0o600, limits: { maxApiStreams: MAX_STREAMS, maxApiStreamsPerPeer: MAX_STREAMS, maxGrpcMessageBytes: MAX_MESSAGE }, defaultTimeoutMs: 1000, log: logger });
});

afterAll(async () => {
  await api?.close(0);
  rmSync(dir, { recursive: true, force: true });
});

// ---- 1. targeted misbehaviour with node:http2 ----

interface RawReply {
  status: string | undefined;
  message: string;
}

/** One call whose body is written as given; `reset` cancels it after the body instead of ending. */
function rawCall(session: http2.ClientHttp2Session, body: Uint8Array, options: { reset?: boolean; path?: string } = {}): Promise<RawReply> {
  return new Promise((resolve) => {
    const stream = session.request({ ":method": "POST", ":path": options.path ?? ACCOUNTING.path, "content-type": "application/grpc", te: "trailers", "grpc-timeout": "2S" });
    let reply: RawReply = { status: undefined, message: "" };
    const take = (headers: http2.IncomingHttpHeaders) => {
      if (headers["grpc-status"] !== undefined) reply = { status: String(headers["grpc-status"]), message: decodeURIComponent(String(headers["grpc-message"] ?? "")) };
    };
    stream.on("response", take);
    stream.on("trailers", take);
    stream.on("error", () => {});
    stream.on("data", () => {});
    stream.on("close", () => resolve(reply));
    if (options.reset) {
      stream.write(body, () => stream.close(http2.constants.NGHTTP2_CANCEL));
    } else {
      stream.end(body);
    }
  });
}

function openSession(): http2.ClientHttp2Session {
  const session = http2.connect("http://localhost", { createConnection: () => connect({ path: endpoint.path }) });
  session.on("error", () => {});
  return session;
}

test("targeted gRPC misbehaviour gets its specific status, then a normal call works", async () => {
  const session = openSession();
  try {
    const cases: [string, Uint8Array, string][] = [
      ["compressed flag", grpcMessage(VALID, 1), "12"], // UNIMPLEMENTED
      ["unknown flag", grpcMessage(VALID, 7), "13"], // INTERNAL
      ["declared length beyond the body", grpcMessage(VALID, 0, VALID.length + 10), "13"],
      ["declared length shorter than the body", grpcMessage(VALID, 0, VALID.length - 3), "13"],
      ["huge declared length, nothing sent", grpcMessage(new Uint8Array(0), 0, 0xffffffff), "8"], // RESOURCE_EXHAUSTED
      ["one byte over the limit", grpcMessage(new Uint8Array(0), 0, MAX_MESSAGE + 1), "8"],
      ["bad protobuf", grpcMessage(Uint8Array.from([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f])), "3"], // INVALID_ARGUMENT
      ["empty body", new Uint8Array(0), "13"],
      ["half a prefix", Uint8Array.from([0, 0]), "13"],
      ["two messages on a unary method", Uint8Array.from([...grpcMessage(VALID), ...grpcMessage(VALID)]), "13"],
    ];
    for (const [name, body, status] of cases) {
      const reply = await rawCall(session, body);
      expect({ name, status: reply.status }).toEqual({ name, status });
      expect(reply.message.length).toBeGreaterThan(0);
    }
    // Streams reset mid-message: the calls end, nothing reaches the engine.
    const before = engine.requests.length;
    await Promise.all(Array.from({ length: 20 }, () => rawCall(session, grpcMessage(VALID, 0, VALID.length + 100), { reset: true })));
    for (let i = 0; i < 100 && api.activeCalls > 0; i++) await Bun.sleep(10);
    expect(api.activeCalls).toBe(0);
    expect(engine.requests.length).toBe(before);
    // Beyond --max-api-streams on one connection: HTTP/2 refuses the extra streams (SETTINGS) or
    // the shim answers RESOURCE_EXHAUSTED; never a queue. Calls that wait are held by the engine.
    engine.answer = (request) => new Promise((resolve) => setTimeout(() => resolve(passReply(request)), 300));
    const many = await Promise.all(Array.from({ length: MAX_STREAMS * 3 }, () => rawCall(openSession(), grpcMessage(VALID))));
    engine.answer = passReply;
    const statuses = many.map((r) => r.status ?? "refused");
    expect(statuses.filter((s) => s === "0").length).toBe(MAX_STREAMS);
    expect(statuses.filter((s) => s !== "0").every((s) => s === "8")).toBe(true);
  } finally {
    session.destroy();
  }
  expect((await callUnary(endpoint, "Accounting", { user: "alice", command: "show" }, 2000)).result).toBe("response");
}, 20_000);

// ---- 2. seeded raw HTTP/2 frame fuzz ----

type Random = () => number;

function randomBytes(random: Random, length: number): Uint8Array {
  return Uint8Array.from({ length }, () => Math.floor(random() * 256));
}

/** A well-formed call on `streamId`: HEADERS then DATA with END_STREAM. */
function validCall(streamId: number): Uint8Array[] {
  return [
    frame(FrameType.Headers, FrameFlag.EndHeaders, streamId, headerBlock(grpcHeaders(ACCOUNTING.path, [["grpc-timeout", "1S"]]))),
    frame(FrameType.Data, FrameFlag.EndStream, streamId, grpcMessage(VALID)),
  ];
}

/** One mutation of a connection's frame list (after the preface and SETTINGS). */
function mutateFrames(random: Random, frames: Uint8Array[]): Uint8Array[] {
  const pick = (n: number) => Math.floor(random() * n);
  const at = pick(frames.length);
  const out: Uint8Array[] = frames.map((f) => f.slice());
  const target = out[at]!;
  switch (pick(14)) {
    case 0: // flip bytes anywhere in one frame (length, type, flags, stream id, payload)
      for (let i = 0, n = 1 + pick(4); i < n; i++) target[pick(target.length)] = pick(256);
      return out;
    case 1: // a frame that declares more than it carries, or a huge length (beyond SETTINGS_MAX_FRAME_SIZE)
      out[at] = frame(target[3]!, target[4]!, new DataView(target.buffer).getUint32(5), target.subarray(9), [0xffffff, 16385, target.length + pick(100)][pick(3)]!);
      return out;
    case 2: // truncate the connection's bytes
      return [out.flatMap((f) => [...f]).slice(0, pick(out.reduce((n, f) => n + f.length, 0)))].map((bytes) => Uint8Array.from(bytes));
    case 3: // a gRPC message with a lying prefix or flag
      out.push(frame(FrameType.Data, FrameFlag.EndStream, 1, grpcMessage(randomBytes(random, pick(40)), [0, 1, 2, 255][pick(4)]!, [0, 5, 0x7fffffff, 0xffffffff, pick(1 << 20)][pick(5)]!)));
      return out;
    case 4: // DATA on stream 0, an even (server) stream, or a stream never opened
      out.push(frame(FrameType.Data, 0, [0, 2, 99][pick(3)]!, grpcMessage(VALID)));
      return out;
    case 5: // a garbage HPACK block, or CONTINUATION out of place
      out.splice(at, 0, pick(2) === 0 ? frame(FrameType.Headers, FrameFlag.EndHeaders, 3, randomBytes(random, 1 + pick(60))) : frame(FrameType.Continuation, FrameFlag.EndHeaders, 1, randomBytes(random, pick(30))));
      return out;
    case 6: // HEADERS without END_HEADERS and nothing after
      out[0] = frame(FrameType.Headers, 0, 1, headerBlock(grpcHeaders(ACCOUNTING.path)));
      return out.slice(0, 1);
    case 7: // RST_STREAM in the middle of the message
      out.splice(1, 0, frame(FrameType.Data, 0, 1, grpcMessage(VALID, 0, VALID.length + 50)), frame(FrameType.RstStream, 0, 1, u32(pick(14))));
      return out;
    case 8: // bad SETTINGS values (window size beyond 2^31-1, frame size out of range, unknown ids, odd length)
      out.unshift(pick(2) === 0 ? settings([[[4, 5, 2, 3, 0x99][pick(5)]!, [0xffffffff, 0, 1, 16383][pick(4)]!]]) : frame(FrameType.Settings, 0, 0, randomBytes(random, 1 + pick(11))));
      return out;
    case 9: // WINDOW_UPDATE of 0 or overflowing, on the connection or the stream
      out.push(frame(FrameType.WindowUpdate, 0, pick(2), u32([0, 0x7fffffff, pick(1 << 30)][pick(3)]!)));
      return out;
    case 10: // PING / PRIORITY / GOAWAY / PUSH_PROMISE with wrong sizes or from the wrong side
      out.push(frame([FrameType.Ping, FrameType.Priority, FrameType.GoAway, FrameType.PushPromise][pick(4)]!, pick(256), pick(4), randomBytes(random, pick(20))));
      return out;
    case 11: // headers that are not gRPC (GET, bad content-type, unknown path, huge value, pseudo-header after regular)
      out[0] = frame(FrameType.Headers, FrameFlag.EndHeaders, 1, headerBlock([
        [":method", ["GET", "POST"][pick(2)]!], [":scheme", "http"], [":path", ["/", ACCOUNTING.path, "/x/" + "y".repeat(pick(5000))][pick(3)]!],
        ["content-type", ["text/plain", "application/grpc"][pick(2)]!], ...(pick(2) === 0 ? [[":authority", "late"] as [string, string]] : []),
        ["grpc-timeout", ["1S", "0n", "99999999H", "bad"][pick(4)]!],
      ]));
      return out;
    case 12: // many streams at once, some reset
      for (let id = 3; id < 3 + 2 * (MAX_STREAMS + pick(20)); id += 2) {
        out.push(...validCall(id));
        if (pick(3) === 0) out.push(frame(FrameType.RstStream, 0, id, u32(8)));
      }
      return out;
    default: // random bytes
      return [randomBytes(random, 1 + pick(300))];
  }
}

/** Sends one case on a fresh connection in a few writes and waits (bounded) for the server to react. */
function sendCase(path: string, bytes: Uint8Array, random: Random): Promise<void> {
  return new Promise((resolve) => {
    const socket = connect({ path });
    const done = () => {
      clearTimeout(timer);
      socket.destroy();
      resolve();
    };
    const timer = setTimeout(done, 100 + Math.floor(random() * 200));
    socket.on("error", done);
    socket.on("close", done);
    socket.on("data", () => {});
    socket.once("connect", () => {
      const cut = Math.floor(random() * bytes.length);
      socket.write(bytes.subarray(0, cut));
      socket.write(bytes.subarray(cut));
      if (random() < 0.3) socket.end();
    });
  });
}

function buildCase(random: Random): Uint8Array {
  const withPreface = random() < 0.95;
  const frames = mutateFrames(random, validCall(1));
  const parts = withPreface ? [PREFACE, settings([]), ...frames] : frames;
  return Uint8Array.from(parts.flatMap((p) => [...p]));
}

test(`fuzz: ${CASES} mutated HTTP/2 connections (seed ${SEED}) never crash, wedge or bloat the API`, async () => {
  const random = prng(SEED);
  Bun.gc(true);
  const rssBefore = process.memoryUsage().rss;
  const reachedBefore = engine.requests.length;
  for (let i = 0; i < CASES; i += BATCH) {
    const batch = Array.from({ length: Math.min(BATCH, CASES - i) }, () => buildCase(random));
    await Promise.all(batch.map((bytes) => sendCase(endpoint.path, bytes, random)));
  }
  // Every call ends by its deadline (1 s at most here), nothing escaped as warn/error.
  const until = Date.now() + 3000;
  while (api.activeCalls > 0 && Date.now() < until) await Bun.sleep(20);
  expect(api.activeCalls).toBe(0);
  expect(lines.filter((line) => line.level === "error" || line.level === "warn")).toEqual([]);
  // The mutations must not all die at the frame layer: some calls still reach the engine.
  expect(engine.requests.length - reachedBefore).toBeGreaterThan(CASES / 20);
  Bun.gc(true);
  const grownMb = (process.memoryUsage().rss - rssBefore) / 2 ** 20;
  expect(grownMb).toBeLessThan(150);
  expect((await callUnary(endpoint, "Accounting", { user: "alice", command: "show" }, 2000)).result).toBe("response");
}, 60_000);

test("the compiled agent survives 200 mutated HTTP/2 connections and still serves", async () => {
  const upstream = await startTacacsServer({ key: "grpc-fuzz-secret" });
  const agent = await startAgent(["--server-addr", `127.0.0.1:${upstream.port}`, "--max-api-streams", String(MAX_STREAMS), "--max-api-streams-per-peer", String(MAX_STREAMS)], { TACACSRS_SHARED_SECRET: "grpc-fuzz-secret" });
  try {
    const random = prng(SEED ^ 0xa9e47);
    for (let i = 0; i < 200; i += BATCH) {
      await Promise.all(Array.from({ length: BATCH }, () => sendCase(agent.socket, buildCase(random), random)));
    }
    expect(agent.process.exitCode).toBeNull();
    const reply = await callUnary({ kind: "unix", path: agent.socket }, "Accounting", { user: "alice", command: "show" }, 5000);
    expect(reply.result).toBe("response");
    expect(upstream.counters.packetsReceived).toBeGreaterThan(5);
  } finally {
    expect(await agent.stop()).toBe(0);
    await upstream.stop();
  }
  expect(agent.output()).not.toMatch(/ERROR|internal error|\n\s+at /);
}, 30_000);
