/**
 * The benchmarks' raw HTTP/2 gRPC client against a scripted server on a Unix socket: the server
 * parses the client's frames and answers each request with frames a test chooses (trailers-only,
 * CONTINUATION, padding, the HPACK dynamic table, RST_STREAM, GOAWAY, PING, large replies).
 */
import { afterEach, expect, test } from "bun:test";
import type { Socket, UnixSocketListener } from "bun";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { encodeMessage } from "../../src/api/framing";
import { ErrorCode, Flag, FrameBuffer, FrameType, PREFACE } from "../../src/api/h2/frames";
import { encodeHeaderBlock } from "../../src/api/h2/hpack";
import { ACCOUNTING_PATH, GrpcClient, isResponse } from "../../scripts/bench/grpc-client";
import { runLoad } from "../../scripts/bench/load";

const OK_HEADERS = encodeHeaderBlock([[":status", "200"], ["content-type", "application/grpc"]]);
const OK_TRAILERS = encodeHeaderBlock([["grpc-status", "0"]]);
const REPLY = encodeMessage(Uint8Array.of(0x0a, 0x02, 0x08, 0x01)); // `response` set: isResponse()
const BODY = encodeMessage(Uint8Array.of(0x0a, 0x01, 0x41));

type Respond = (out: FrameBuffer, streamId: number) => void;

/** A normal unary reply: HEADERS, DATA, trailers. */
const unary: Respond = (out, id) => {
  out.frame(FrameType.HEADERS, Flag.END_HEADERS, id, OK_HEADERS);
  out.frame(FrameType.DATA, 0, id, REPLY);
  out.frame(FrameType.HEADERS, Flag.END_HEADERS | Flag.END_STREAM, id, OK_TRAILERS);
};

interface ScriptedServer {
  path: string;
  /** Frame types the client sent, with their flags, in order (per connection index). */
  received: { connection: number; type: number; flags: number; streamId: number }[];
  connections: number;
  respond: Respond;
}

let dir: string | undefined;
interface Peer {
  index: number;
  input: Uint8Array;
  preface: boolean;
  unsent: Uint8Array[];
}
let listener: UnixSocketListener<Peer> | undefined;
afterEach(() => {
  listener?.stop(true);
  listener = undefined;
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
});

function scriptedServer(respond: Respond): ScriptedServer {
  dir = mkdtempSync(join(tmpdir(), "grpc-client-test-"));
  const server: ScriptedServer = { path: join(dir, "api.sock"), received: [], connections: 0, respond };
  /** Writes in order; what the socket does not take waits for drain. */
  const send = (socket: Socket<Peer>, fill: (out: FrameBuffer) => void) => {
    const out = new FrameBuffer();
    fill(out);
    socket.data.unsent.push(out.take());
    flush(socket);
  };
  const flush = (socket: Socket<Peer>) => {
    const unsent = socket.data.unsent;
    while (unsent.length > 0) {
      const written = Math.max(0, socket.write(unsent[0]!));
      if (written === unsent[0]!.length) unsent.shift();
      else return void (unsent[0] = unsent[0]!.subarray(written));
    }
  };
  listener = Bun.listen<Peer>({
    unix: server.path,
    socket: {
      binaryType: "uint8array",
      open(socket) {
        socket.data = { index: server.connections++, input: new Uint8Array(0), preface: false, unsent: [] };
        send(socket, (out) => out.frame(FrameType.SETTINGS, 0, 0, Uint8Array.of(0, 3, 0, 0, 0, 100)));
      },
      drain: flush,
      data(socket, chunk) {
        const state = socket.data;
        let input = Buffer.concat([state.input, chunk]);
        if (!state.preface) {
          if (input.length < PREFACE.length) return void (state.input = input);
          expect(input.subarray(0, PREFACE.length)).toEqual(Buffer.from(PREFACE));
          input = input.subarray(PREFACE.length);
          state.preface = true;
        }
        while (input.length >= 9) {
          const length = (input[0]! << 16) | (input[1]! << 8) | input[2]!;
          if (input.length < 9 + length) break;
          const [type, flags] = [input[3]!, input[4]!];
          const streamId = input.readUInt32BE(5) & 0x7fffffff;
          server.received.push({ connection: state.index, type, flags, streamId });
          if (type === FrameType.DATA && flags & Flag.END_STREAM) send(socket, (out) => server.respond(out, streamId));
          input = input.subarray(9 + length);
        }
        state.input = input;
      },
    },
    data: { index: 0, input: new Uint8Array(0), preface: false, unsent: [] },
  });
  return server;
}

const clientOf = (server: ScriptedServer, sessions = 1, firstStreamId?: number) => new GrpcClient({ kind: "unix", path: server.path }, sessions, firstStreamId);
const call = (client: GrpcClient) => client.callAsync(ACCOUNTING_PATH, BODY);

test("a unary call: preface, SETTINGS (and its ACK), one HEADERS + one DATA per request, the reply and grpc-status", async () => {
  const server = scriptedServer(unary);
  const client = clientOf(server);
  await client.ready();
  const [first, second] = await Promise.all([call(client), call(client)]);
  expect(first).toEqual({ status: 0, statusMessage: "", message: REPLY.slice(5) });
  expect(isResponse(second.message)).toBe(true);
  const types = server.received.map((f) => [f.type, f.flags, f.streamId]);
  expect(types.slice(0, 3)).toEqual([
    [FrameType.SETTINGS, 0, 0],
    [FrameType.WINDOW_UPDATE, 0, 0], // the connection window opened at once (§6.9)
    [FrameType.SETTINGS, Flag.ACK, 0],
  ]);
  expect(types.slice(3)).toEqual([
    [FrameType.HEADERS, Flag.END_HEADERS, 1],
    [FrameType.DATA, Flag.END_STREAM, 1],
    [FrameType.HEADERS, Flag.END_HEADERS, 3],
    [FrameType.DATA, Flag.END_STREAM, 3],
  ]);
  client.close();
});

test("trailers-only, CONTINUATION, padding, PRIORITY and the HPACK dynamic table are understood", async () => {
  let n = 0;
  const server = scriptedServer((out, id) => {
    if (n++ === 0) {
      // Trailers-only (gRPC): one HEADERS with END_STREAM; grpc-status inserted into the dynamic table.
      return out.frame(FrameType.HEADERS, Flag.END_HEADERS | Flag.END_STREAM, id, encodeHeaderBlock([[":status", "200"]]), Uint8Array.of(0x40, 11), Buffer.from("grpc-status"), Uint8Array.of(1), Buffer.from("5"));
    }
    // HEADERS split over CONTINUATION, padded DATA split in two, trailers from the dynamic table (index 62).
    out.frame(FrameType.HEADERS, Flag.PRIORITY, id, Uint8Array.of(0, 0, 0, 0, 16), OK_HEADERS.subarray(0, 1));
    out.frame(FrameType.CONTINUATION, Flag.END_HEADERS, id, OK_HEADERS.subarray(1));
    out.frame(FrameType.DATA, Flag.PADDED, id, Uint8Array.of(3), REPLY.subarray(0, 4), Uint8Array.of(0, 0, 0));
    out.frame(FrameType.DATA, 0, id, REPLY.subarray(4));
    out.frame(FrameType.HEADERS, Flag.END_HEADERS | Flag.END_STREAM, id, Uint8Array.of(0x80 | 62));
  });
  const client = clientOf(server);
  expect(await call(client)).toEqual({ status: 5, statusMessage: "", message: new Uint8Array(0) });
  expect(await call(client)).toEqual({ status: 5, statusMessage: "", message: REPLY.slice(5) });
  client.close();
});

test("RST_STREAM fails its call; PING is answered; GOAWAY fails the unprocessed calls and the next call opens a new connection", async () => {
  const server = scriptedServer((out, id) => {
    if (id === 1) return out.frame(FrameType.PING, 0, 0, Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8)), unary(out, id);
    if (id === 3) return out.words(FrameType.RST_STREAM, 0, id, ErrorCode.REFUSED_STREAM);
    if (id === 5) return out.words(FrameType.GOAWAY, 0, 0, 3, ErrorCode.NO_ERROR);
  });
  const client = clientOf(server);
  expect((await call(client)).status).toBe(0);
  await Bun.sleep(20);
  expect(server.received.some((f) => f.type === FrameType.PING && f.flags === Flag.ACK)).toBe(true);
  // Streams 3 and 5 in flight together: both fail in one read, so both are settled before checking.
  const [reset, goneAway] = await Promise.allSettled([call(client), call(client)]);
  expect(reset.status === "rejected" && String(reset.reason)).toBe("Error: stream reset by the server (error code 7)");
  expect(goneAway.status === "rejected" && String(goneAway.reason)).toBe("Error: GOAWAY (error code 0) before the server processed the call");
  await Bun.sleep(20);
  expect((await call(client)).status).toBe(0); // stream 1 of a second connection
  expect(server.connections).toBe(2);
  client.close();
});

test("bad server input: an invalid grpc-status fails the call; a protocol error sends GOAWAY and fails the connection's calls", async () => {
  const server = scriptedServer((out, id) => {
    if (id === 1) return out.frame(FrameType.HEADERS, Flag.END_HEADERS | Flag.END_STREAM, id, encodeHeaderBlock([[":status", "200"], ["grpc-status", "abc"]]));
    out.frame(FrameType.PUSH_PROMISE, Flag.END_HEADERS, id, Uint8Array.of(0, 0, 0, 2));
  });
  const client = clientOf(server);
  await expect(call(client)).rejects.toThrow("call closed without a valid grpc-status");
  await expect(call(client)).rejects.toThrow("HTTP/2 connection error from the server's frames: PUSH_PROMISE although SETTINGS_ENABLE_PUSH is 0");
  await Bun.sleep(20);
  expect(server.received.at(-1)?.type).toBe(FrameType.GOAWAY);
  // A failed connection is not replaced. (Not `rejects.toThrow`: Bun's expect takes ~0.8 s over this error.)
  expect(String(await call(client).catch((error: unknown) => error))).toContain("PUSH_PROMISE although SETTINGS_ENABLE_PUSH is 0");
  client.close();
});

test("stream ids: odd and increasing, and a new connection before they pass 2^31 - 1 (§5.1.1)", async () => {
  const server = scriptedServer(unary);
  const client = clientOf(server, 1, 2 ** 31 - 3);
  for (let i = 0; i < 3; i++) expect((await call(client)).status).toBe(0);
  const requests = server.received.filter((f) => f.type === FrameType.HEADERS);
  expect(requests.map((f) => [f.connection, f.streamId])).toEqual([[0, 2 ** 31 - 3], [0, 2 ** 31 - 1], [1, 1]]);
  expect(() => clientOf(server, 1, 2)).toThrow("client stream ids are odd");
  client.close();
});

test("flow control: 200 replies of 40 kB (8 MB > the 65,535-byte default window) never stall; MAX_CONCURRENT_STREAMS queues", async () => {
  const big = encodeMessage(new Uint8Array(40_000).fill(0x0a));
  const server = scriptedServer((out, id) => {
    out.frame(FrameType.HEADERS, Flag.END_HEADERS, id, OK_HEADERS);
    for (let at = 0; at < big.length; at += 16_384) out.frame(FrameType.DATA, 0, id, big.subarray(at, at + 16_384));
    out.frame(FrameType.HEADERS, Flag.END_HEADERS | Flag.END_STREAM, id, OK_TRAILERS);
  });
  const client = clientOf(server);
  const results = await Promise.all(Array.from({ length: 200 }, () => call(client))); // the server allows 100 at once
  expect(results.every((r) => r.status === 0 && r.message.length === 40_000)).toBe(true);
  client.close();
});

test("a missing server: ready() rejects, calls fail with an Error, no unhandled rejection", async () => {
  const client = new GrpcClient({ kind: "unix", path: join(tmpdir(), "no-such-agent.sock") }, 2);
  await expect(client.ready()).rejects.toThrow();
  await expect(call(client)).rejects.toBeInstanceOf(Error);
  await expect(call(client)).rejects.toBeInstanceOf(Error); // later calls too, asynchronously
  client.close();
});

test("open loop: every request goes out on its schedule and is counted once", async () => {
  const server = scriptedServer(unary);
  const result = await runLoad({ client: { kind: "grpc", endpoint: { kind: "unix", path: server.path }, sessions: 2 }, load: { open: 2000 }, warmupMs: 100, durationMs: 500 });
  expect(result.errors).toBe(0);
  expect(result.shed).toBe(0);
  expect(result.requests).toBeGreaterThan(900); // answered within the 500 ms window (a slow machine answers some after it)
  expect(result.requests).toBeLessThanOrEqual(1010);
  // Every request scheduled before the window's end is sent, even when the last timer fires late.
  expect(server.received.filter((f) => f.type === FrameType.HEADERS).length).toBe(1200);
});
