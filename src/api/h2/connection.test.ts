import { expect, test } from "bun:test";
import { Connection, connectionTransition, type H2Stream, type StreamListener } from "./connection";
import { ErrorCode, Flag, FrameBuffer, FrameType, PREFACE, Setting, settingsPayload } from "./frames";
import { encodeHeaderBlock, HpackDecoder, type HeaderField } from "./hpack";
import type { RequestHeaders } from "./request-headers";
import { newH2Counters } from "./guards";
import { PeerTable } from "./peers";

interface Frame {
  type: number;
  flags: number;
  stream: number;
  payload: Uint8Array;
}

const REQUEST: HeaderField[] = [
  [":method", "POST"],
  [":scheme", "http"],
  [":path", "/svc/Method"],
  [":authority", "localhost"],
  ["content-type", "application/grpc"],
  ["te", "trailers"],
];

/** A Connection on a fake sink, with a client side that builds frames and parses the replies. */
function harness(options: { maxConcurrentStreams?: number; idleTimeoutMs?: number; answerAtOnce?: boolean; answerOnData?: boolean; handshakeTimeoutMs?: number; writeTimeoutMs?: number } = {}) {
  const counters = newH2Counters();
  const written: Uint8Array[] = [];
  const streams: Array<{ stream: H2Stream; headers: RequestHeaders; events: string[]; data: Uint8Array[] }> = [];
  const state = { ended: false, closed: false, errors: [] as string[] };
  const connection = new Connection(
    {
      write: (bytes) => {
        written.push(bytes.slice());
        return bytes.length;
      },
      end: () => (state.ended = true),
    },
    {
      maxConcurrentStreams: options.maxConcurrentStreams ?? 8,
      idleTimeoutMs: options.idleTimeoutMs ?? 60_000,
      counters,
      peer: new PeerTable().of("tcp"),
      ...(options.handshakeTimeoutMs === undefined ? {} : { handshakeTimeoutMs: options.handshakeTimeoutMs }),
      ...(options.writeTimeoutMs === undefined ? {} : { writeTimeoutMs: options.writeTimeoutMs }),
      onStream: (stream, headers) => {
        const entry = { stream, headers, events: [] as string[], data: [] as Uint8Array[] };
        const listener: StreamListener = {
          data: (chunk) => {
            entry.data.push(chunk);
            if (options.answerOnData) stream.sendHeaders(encodeHeaderBlock([[":status", "200"], ["grpc-status", "8"]]), true);
          },
          end: () => entry.events.push("end"),
          abort: () => entry.events.push("abort"),
        };
        stream.listener = listener;
        streams.push(entry);
        if (options.answerAtOnce) stream.sendHeaders(encodeHeaderBlock([[":status", "200"], ["grpc-status", "12"]]), true);
      },
      onClose: () => (state.closed = true),
      onError: (message) => state.errors.push(message),
    },
  );
  let read = 0;
  const client = {
    connection,
    streams,
    state,
    counters,
    send(...frames: Uint8Array[]) {
      for (const bytes of frames) connection.receive(bytes);
    },
    /** Preface and an empty SETTINGS, then drops the server's opening frames. */
    async open(settings: Array<[number, number]> = []) {
      client.send(PREFACE, frame(FrameType.SETTINGS, 0, 0, settingsPayload(settings)));
      return client.frames();
    },
    /** The frames the server wrote since the last call (after pending microtask flushes). */
    async frames(): Promise<Frame[]> {
      await Bun.sleep(0);
      const all = Buffer.concat(written.slice(read));
      read = written.length;
      return parseFrames(all);
    },
  };
  return client;
}

function frame(type: number, flags: number, stream: number, ...payload: Uint8Array[]): Uint8Array {
  const buffer = new FrameBuffer();
  buffer.frame(type, flags, stream, ...payload);
  return buffer.take().slice();
}

function words(...values: number[]): Uint8Array {
  const bytes = new Uint8Array(4 * values.length);
  values.forEach((value, i) => new DataView(bytes.buffer).setUint32(4 * i, value));
  return bytes;
}


function parseFrames(bytes: Uint8Array): Frame[] {
  const frames: Frame[] = [];
  for (let at = 0; at < bytes.length; ) {
    const length = (bytes[at]! << 16) | (bytes[at + 1]! << 8) | bytes[at + 2]!;
    const stream = new DataView(bytes.buffer, bytes.byteOffset + at + 5, 4).getUint32(0) & 0x7fffffff;
    frames.push({ type: bytes[at + 3]!, flags: bytes[at + 4]!, stream, payload: new Uint8Array(bytes.subarray(at + 9, at + 9 + length)) });
    at += 9 + length;
  }
  return frames;
}

const u32 = (payload: Uint8Array, at = 0) => new DataView(payload.buffer, payload.byteOffset).getUint32(at);
const headers = (stream: number, flags: number = Flag.END_HEADERS, fields = REQUEST) => frame(FrameType.HEADERS, flags, stream, encodeHeaderBlock(fields));
const summary = (frames: Frame[]) => frames.map((f) => [f.type, f.stream, f.flags]);
const goAwayCode = (frames: Frame[]) => {
  const goAway = frames.find((f) => f.type === FrameType.GOAWAY);
  return goAway === undefined ? undefined : u32(goAway.payload, 4);
};

test("opening: our SETTINGS and connection WINDOW_UPDATE; theirs acknowledged; PING answered", async () => {
  const client = harness({ maxConcurrentStreams: 5 });
  const opening = await client.open();
  expect(summary(opening)).toEqual([
    [FrameType.SETTINGS, 0, 0],
    [FrameType.WINDOW_UPDATE, 0, 0],
    [FrameType.SETTINGS, 0, Flag.ACK],
  ]);
  const ours = opening[0]!.payload;
  expect(new DataView(ours.buffer).getUint16(0)).toBe(Setting.MAX_CONCURRENT_STREAMS);
  expect(u32(ours, 2)).toBe(5);
  expect(u32(opening[1]!.payload)).toBeGreaterThan(1 << 20);
  client.send(frame(FrameType.PING, 0, 0, Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8)), frame(FrameType.PING, Flag.ACK, 0, new Uint8Array(8)));
  const pong = await client.frames();
  expect(summary(pong)).toEqual([[FrameType.PING, 0, Flag.ACK]]);
  expect([...pong[0]!.payload]).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
  // Unknown frame types and PRIORITY are ignored; our SETTINGS ACK coming back is fine.
  client.send(frame(0x42, 0, 0, Uint8Array.of(1)), frame(FrameType.PRIORITY, 0, 1, new Uint8Array(5)), frame(FrameType.SETTINGS, Flag.ACK, 0));
  expect(await client.frames()).toEqual([]);
  expect(client.connection.phase).toBe("open");
});

test("a preface that is not HTTP/2 closes at once, without a GOAWAY", async () => {
  const client = harness();
  client.send(new TextEncoder().encode("GET / HTTP/1.1\r\n\r\n"));
  expect((await client.frames()).map((f) => f.type)).toEqual([FrameType.SETTINGS, FrameType.WINDOW_UPDATE]);
  expect(client.state).toMatchObject({ ended: true, closed: true });
});

test("the preface may arrive byte by byte, frames split anywhere", async () => {
  const client = harness();
  const bytes = Buffer.concat([PREFACE, frame(FrameType.SETTINGS, 0, 0), headers(1, Flag.END_HEADERS | Flag.END_STREAM)]);
  for (const byte of bytes) client.send(Uint8Array.of(byte));
  expect(client.streams.length).toBe(1);
  expect(client.streams[0]!.headers[":path"]).toBe("/svc/Method");
  expect(client.streams[0]!.events).toEqual(["end"]);
});

test("connection errors: GOAWAY with the RFC 9113 code, then the connection closes", async () => {
  const cases: Array<[string, Uint8Array[], number]> = [
    ["first frame not SETTINGS", [PREFACE, frame(FrameType.PING, 0, 0, new Uint8Array(8))], ErrorCode.PROTOCOL_ERROR],
    ["DATA on stream 0", [frame(FrameType.DATA, 0, 0, Uint8Array.of(1))], ErrorCode.PROTOCOL_ERROR],
    ["frame over SETTINGS_MAX_FRAME_SIZE", [frame(FrameType.DATA, 0, 1, new Uint8Array(16_385))], ErrorCode.FRAME_SIZE_ERROR],
    ["PING of 7 bytes", [frame(FrameType.PING, 0, 0, new Uint8Array(7))], ErrorCode.FRAME_SIZE_ERROR],
    ["PING on a stream", [frame(FrameType.PING, 0, 1, new Uint8Array(8))], ErrorCode.PROTOCOL_ERROR],
    ["SETTINGS ACK with a payload", [frame(FrameType.SETTINGS, Flag.ACK, 0, new Uint8Array(6))], ErrorCode.FRAME_SIZE_ERROR],
    ["SETTINGS of 5 bytes", [frame(FrameType.SETTINGS, 0, 0, new Uint8Array(5))], ErrorCode.FRAME_SIZE_ERROR],
    ["SETTINGS_MAX_FRAME_SIZE too small", [frame(FrameType.SETTINGS, 0, 0, settingsPayload([[Setting.MAX_FRAME_SIZE, 100]]))], ErrorCode.PROTOCOL_ERROR],
    ["SETTINGS_ENABLE_PUSH 2", [frame(FrameType.SETTINGS, 0, 0, settingsPayload([[Setting.ENABLE_PUSH, 2]]))], ErrorCode.PROTOCOL_ERROR],
    ["SETTINGS_INITIAL_WINDOW_SIZE 2^31", [frame(FrameType.SETTINGS, 0, 0, settingsPayload([[Setting.INITIAL_WINDOW_SIZE, 2 ** 31]]))], ErrorCode.FLOW_CONTROL_ERROR],
    ["PUSH_PROMISE from a client", [frame(FrameType.PUSH_PROMISE, Flag.END_HEADERS, 1, new Uint8Array(4))], ErrorCode.PROTOCOL_ERROR],
    ["HPACK garbage", [frame(FrameType.HEADERS, Flag.END_HEADERS, 1, Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0xff))], ErrorCode.COMPRESSION_ERROR],
    ["even stream id", [headers(2)], ErrorCode.PROTOCOL_ERROR],
    ["HEADERS interrupted by PING", [headers(1, 0), frame(FrameType.PING, 0, 0, new Uint8Array(8))], ErrorCode.PROTOCOL_ERROR],
    ["CONTINUATION on another stream", [headers(1, 0), frame(FrameType.CONTINUATION, Flag.END_HEADERS, 3)], ErrorCode.PROTOCOL_ERROR],
    ["CONTINUATION without HEADERS", [frame(FrameType.CONTINUATION, Flag.END_HEADERS, 1)], ErrorCode.PROTOCOL_ERROR],
    ["padding longer than the payload", [frame(FrameType.HEADERS, Flag.END_HEADERS | Flag.PADDED, 1, Uint8Array.of(4, 0x82))], ErrorCode.PROTOCOL_ERROR],
    ["DATA on an idle stream", [frame(FrameType.DATA, 0, 7, Uint8Array.of(1))], ErrorCode.PROTOCOL_ERROR],
    ["RST_STREAM on an idle stream", [frame(FrameType.RST_STREAM, 0, 7, words(0))], ErrorCode.PROTOCOL_ERROR],
    ["RST_STREAM of 3 bytes", [headers(1), frame(FrameType.RST_STREAM, 0, 1, new Uint8Array(3))], ErrorCode.FRAME_SIZE_ERROR],
    ["WINDOW_UPDATE of 0 on the connection", [frame(FrameType.WINDOW_UPDATE, 0, 0, words(0))], ErrorCode.PROTOCOL_ERROR],
    ["connection window over 2^31-1", [frame(FrameType.WINDOW_UPDATE, 0, 0, words(2 ** 31 - 1))], ErrorCode.FLOW_CONTROL_ERROR],
    ["GOAWAY of 4 bytes", [frame(FrameType.GOAWAY, 0, 0, words(0))], ErrorCode.FRAME_SIZE_ERROR],
    ["HEADERS on a stream id below one already used (§5.1 closed)", [headers(5, Flag.END_HEADERS | Flag.END_STREAM), headers(3)], ErrorCode.STREAM_CLOSED],
    ["an empty CONTINUATION flood", [headers(1, 0), ...Array.from({ length: 70 }, () => frame(FrameType.CONTINUATION, 0, 1))], ErrorCode.ENHANCE_YOUR_CALM],
  ];
  for (const [name, frames, code] of cases) {
    const client = harness();
    if (frames[0] !== PREFACE) await client.open();
    client.send(...frames);
    const reply = await client.frames();
    expect([name, goAwayCode(reply), client.state.ended, client.state.closed]).toEqual([name, code, true, true]);
    expect(client.state.errors.length).toBeGreaterThan(0);
  }
});

test("stream errors: RST_STREAM with the code, and the connection goes on", async () => {
  const cases: Array<[string, Uint8Array[], number]> = [
    ["an uppercase field name", [headers(1, Flag.END_HEADERS, [...REQUEST, ["X-Up", "1"]])], ErrorCode.PROTOCOL_ERROR],
    ["no :path", [headers(1, Flag.END_HEADERS, REQUEST.filter(([name]) => name !== ":path"))], ErrorCode.PROTOCOL_ERROR],
    ["a pseudo-header after a field", [headers(1, Flag.END_HEADERS, [...REQUEST, [":path", "/x"]])], ErrorCode.PROTOCOL_ERROR],
    ["a connection-specific field", [headers(1, Flag.END_HEADERS, [...REQUEST, ["connection", "close"]])], ErrorCode.PROTOCOL_ERROR],
    ["trailers without END_STREAM", [headers(1), headers(1, Flag.END_HEADERS, [["x", "1"]])], ErrorCode.PROTOCOL_ERROR],
    ["a pseudo-header in trailers", [headers(1), headers(1, Flag.END_HEADERS | Flag.END_STREAM, [[":path", "/"]])], ErrorCode.PROTOCOL_ERROR],
    ["DATA after END_STREAM", [headers(1, Flag.END_HEADERS | Flag.END_STREAM), frame(FrameType.DATA, 0, 1, Uint8Array.of(1))], ErrorCode.STREAM_CLOSED],
    ["WINDOW_UPDATE of 0 on a stream", [headers(1), frame(FrameType.WINDOW_UPDATE, 0, 1, words(0))], ErrorCode.PROTOCOL_ERROR],
    ["PRIORITY of 4 bytes", [frame(FrameType.PRIORITY, 0, 1, new Uint8Array(4))], ErrorCode.FRAME_SIZE_ERROR],
    ["a body longer than content-length", [headers(1, Flag.END_HEADERS, [...REQUEST, ["content-length", "1"]]), frame(FrameType.DATA, Flag.END_STREAM, 1, Uint8Array.of(1, 2))], ErrorCode.PROTOCOL_ERROR],
  ];
  for (const [name, frames, code] of cases) {
    const client = harness();
    await client.open();
    client.send(...frames);
    const reply = await client.frames();
    const reset = reply.find((f) => f.type === FrameType.RST_STREAM);
    expect([name, reset?.stream, reset && u32(reset.payload), client.state.ended]).toEqual([name, 1, code, false]);
    // A stream with a listener hears about the reset.
    for (const entry of client.streams) expect(entry.events.at(-1)).toBe("abort");
    client.send(headers(11, Flag.END_HEADERS | Flag.END_STREAM));
    expect(client.streams.at(-1)!.stream.id).toBe(11);
  }
});

test("streams beyond SETTINGS_MAX_CONCURRENT_STREAMS are refused (REFUSED_STREAM)", async () => {
  const client = harness({ maxConcurrentStreams: 2 });
  await client.open();
  client.send(headers(1), headers(3), headers(5));
  const reply = await client.frames();
  expect(summary(reply)).toEqual([[FrameType.RST_STREAM, 5, 0]]);
  expect(u32(reply[0]!.payload)).toBe(ErrorCode.REFUSED_STREAM);
  expect(client.streams.length).toBe(2);
});

test("HEADERS + CONTINUATION with padding and priority fields decode as one block", async () => {
  const client = harness();
  await client.open();
  const block = encodeHeaderBlock(REQUEST);
  const first = Buffer.concat([Uint8Array.of(3), new Uint8Array(5), block.subarray(0, 4), new Uint8Array(3)]);
  client.send(
    frame(FrameType.HEADERS, Flag.PADDED | Flag.PRIORITY, 1, first),
    frame(FrameType.CONTINUATION, 0, 1, block.subarray(4, 10)),
    frame(FrameType.CONTINUATION, Flag.END_HEADERS, 1, block.subarray(10)),
  );
  expect(client.streams.length).toBe(1);
  expect(client.streams[0]!.headers["content-type"]).toBe("application/grpc");
  // Padded DATA reaches the application without its padding; END_STREAM on the last frame.
  client.send(frame(FrameType.DATA, Flag.PADDED, 1, Uint8Array.of(2, 7, 8, 0, 0)), frame(FrameType.DATA, Flag.END_STREAM, 1, Uint8Array.of(9)));
  expect(client.streams[0]!.data.map((chunk) => [...chunk])).toEqual([[7, 8], [9]]);
  expect(client.streams[0]!.events).toEqual(["end"]);
});

test("a reply: HEADERS, DATA, trailers in one write; a field block over the peer's frame size uses CONTINUATION", async () => {
  const client = harness();
  await client.open();
  client.send(headers(1, Flag.END_HEADERS | Flag.END_STREAM));
  const stream = client.streams[0]!.stream;
  stream.sendHeaders(encodeHeaderBlock([[":status", "200"]]), false);
  stream.sendData(Uint8Array.of(0, 0, 0, 0, 1, 42), false);
  stream.sendHeaders(encodeHeaderBlock([["grpc-status", "0"], ["grpc-message", "x".repeat(20_000)]]), true);
  await Bun.sleep(0);
  const reply = await client.frames();
  expect(summary(reply)).toEqual([
    [FrameType.HEADERS, 1, Flag.END_HEADERS],
    [FrameType.DATA, 1, 0],
    [FrameType.HEADERS, 1, Flag.END_STREAM],
    [FrameType.CONTINUATION, 1, Flag.END_HEADERS],
  ]);
  const trailers = new HpackDecoder(4096, 65536).decode(Buffer.concat([reply[2]!.payload, reply[3]!.payload])).fields;
  expect(trailers[1]![1].length).toBe(20_000);
  expect(stream.state).toBe("closed");
  expect(client.connection.openStreams).toBe(0);
  stream.sendData(Uint8Array.of(1), true); // after the end: nothing is sent
  expect(await client.frames()).toEqual([]);
});

test("flow control: DATA waits for the peer's stream and connection windows; trailers stay behind it", async () => {
  const client = harness();
  await client.open([[Setting.INITIAL_WINDOW_SIZE, 10]]);
  client.send(headers(1, Flag.END_HEADERS | Flag.END_STREAM));
  const stream = client.streams[0]!.stream;
  stream.sendHeaders(encodeHeaderBlock([[":status", "200"]]), false);
  stream.sendData(new Uint8Array(25).fill(1), false);
  stream.sendHeaders(encodeHeaderBlock([["grpc-status", "0"]]), true);
  let reply = await client.frames();
  expect(reply.map((f) => [f.type, f.payload.length])).toEqual([
    [FrameType.HEADERS, 1],
    [FrameType.DATA, 10],
  ]);
  // A larger initial window applies to the open stream too (§6.9.2).
  client.send(frame(FrameType.SETTINGS, 0, 0, settingsPayload([[Setting.INITIAL_WINDOW_SIZE, 14]])));
  reply = await client.frames();
  expect(reply.map((f) => [f.type, f.flags, f.payload.length])).toEqual([
    [FrameType.SETTINGS, Flag.ACK, 0],
    [FrameType.DATA, 0, 4],
  ]);
  client.send(frame(FrameType.WINDOW_UPDATE, 0, 1, words(100)));
  reply = await client.frames();
  expect(reply.map((f) => [f.type, f.flags, f.payload.length])).toEqual([
    [FrameType.DATA, 0, 11],
    [FrameType.HEADERS, Flag.END_STREAM | Flag.END_HEADERS, 15],
  ]);
});

test("flow control: the connection window is shared by all streams", async () => {
  const client = harness();
  await client.open([[Setting.INITIAL_WINDOW_SIZE, 1 << 20]]);
  client.send(headers(1, Flag.END_HEADERS | Flag.END_STREAM), headers(3, Flag.END_HEADERS | Flag.END_STREAM));
  const [one, three] = client.streams.map((entry) => entry.stream);
  one!.sendData(new Uint8Array(60_000), true);
  three!.sendData(new Uint8Array(10_000), true);
  let reply = await client.frames();
  expect(reply.reduce((sum, f) => sum + f.payload.length, 0)).toBe(65_535);
  expect(three!.state).toBe("half-closed-remote");
  client.send(frame(FrameType.WINDOW_UPDATE, 0, 0, words(10_000)));
  reply = await client.frames();
  expect(reply.map((f) => [f.stream, f.payload.length, f.flags])).toEqual([[3, 4465, Flag.END_STREAM]]);
  expect(client.connection.openStreams).toBe(0);
});

test("replies leave the peer's SETTINGS_MAX_FRAME_SIZE-sized DATA frames", async () => {
  const client = harness();
  await client.open([[Setting.INITIAL_WINDOW_SIZE, 1 << 20]]);
  client.send(frame(FrameType.WINDOW_UPDATE, 0, 0, words(1 << 20)), headers(1, Flag.END_HEADERS | Flag.END_STREAM));
  client.streams[0]!.stream.sendData(new Uint8Array(40_000), true);
  const reply = await client.frames();
  expect(reply.map((f) => f.payload.length)).toEqual([16_384, 16_384, 7232]);
});

test("RST_STREAM from the client aborts the stream; frames still in flight on a stream we reset are ignored", async () => {
  const client = harness();
  await client.open();
  client.send(headers(1), frame(FrameType.RST_STREAM, 0, 1, words(ErrorCode.CANCEL)));
  expect(client.streams[0]!.events).toEqual(["abort"]);
  // We answer early while the client is still sending: RST_STREAM NO_ERROR follows our END_STREAM (§8.1).
  client.send(headers(3));
  client.streams[1]!.stream.sendHeaders(encodeHeaderBlock([[":status", "200"], ["grpc-status", "8"]]), true);
  const reply = await client.frames();
  expect(summary(reply)).toEqual([
    [FrameType.HEADERS, 3, Flag.END_STREAM | Flag.END_HEADERS],
    [FrameType.RST_STREAM, 3, 0],
  ]);
  expect(u32(reply[1]!.payload)).toBe(ErrorCode.NO_ERROR);
  client.send(frame(FrameType.DATA, 0, 3, new Uint8Array(100)), frame(FrameType.DATA, Flag.END_STREAM, 3, new Uint8Array(100)));
  expect(await client.frames()).toEqual([]);
  expect(client.streams[1]!.data).toEqual([]);
});

test("answered while the request headers are handled: RST_STREAM NO_ERROR only when the request was not complete", async () => {
  const client = harness({ answerAtOnce: true });
  await client.open();
  client.send(headers(1, Flag.END_HEADERS | Flag.END_STREAM), headers(3));
  expect(summary(await client.frames())).toEqual([
    [FrameType.HEADERS, 1, Flag.END_STREAM | Flag.END_HEADERS],
    [FrameType.HEADERS, 3, Flag.END_STREAM | Flag.END_HEADERS],
    [FrameType.RST_STREAM, 3, 0],
  ]);
  expect(client.streams.map((entry) => entry.events)).toEqual([[], ["abort"]]);
});

test("graceful GOAWAY: streams in flight finish, later streams are ignored, then the connection closes", async () => {
  const client = harness();
  await client.open();
  client.send(headers(1, Flag.END_HEADERS | Flag.END_STREAM));
  client.connection.goAway();
  const reply = await client.frames();
  expect(summary(reply)).toEqual([[FrameType.GOAWAY, 0, 0]]);
  expect([u32(reply[0]!.payload), u32(reply[0]!.payload, 4)]).toEqual([1, ErrorCode.NO_ERROR]);
  client.send(headers(3, Flag.END_HEADERS | Flag.END_STREAM));
  expect(client.streams.length).toBe(1);
  expect(client.state.ended).toBe(false);
  client.connection.goAway(); // once only
  expect(await client.frames()).toEqual([]);
  client.streams[0]!.stream.sendHeaders(encodeHeaderBlock([[":status", "200"]]), true);
  await client.frames();
  await Bun.sleep(0);
  expect(client.state).toMatchObject({ ended: true, closed: true });
});

test("after our GOAWAY, a connection error names the same last stream, not the ignored ones (§6.8)", async () => {
  const client = harness();
  await client.open();
  client.send(headers(1, Flag.END_HEADERS | Flag.END_STREAM));
  client.connection.goAway();
  await client.frames();
  client.send(headers(3, Flag.END_HEADERS | Flag.END_STREAM), frame(FrameType.PING, 0, 0, new Uint8Array(3)));
  const reply = await client.frames();
  expect(summary(reply)).toEqual([[FrameType.GOAWAY, 0, 0]]);
  expect([u32(reply[0]!.payload), u32(reply[0]!.payload, 4)]).toEqual([1, ErrorCode.FRAME_SIZE_ERROR]);
  expect(client.streams[0]!.events).toEqual(["end", "abort"]);
});

test("a client's GOAWAY: we finish what is open, then close", async () => {
  const client = harness();
  await client.open();
  client.send(headers(1, Flag.END_HEADERS | Flag.END_STREAM), frame(FrameType.GOAWAY, 0, 0, words(0, 0)));
  await client.frames();
  expect(client.state.ended).toBe(false);
  client.streams[0]!.stream.sendHeaders(encodeHeaderBlock([[":status", "200"]]), true);
  await client.frames();
  await Bun.sleep(0);
  expect(client.state.ended).toBe(true);
});

test("an idle connection gets GOAWAY; one with an open stream is kept", async () => {
  const idle = harness({ idleTimeoutMs: 40 });
  const busy = harness({ idleTimeoutMs: 40 });
  await idle.open();
  await busy.open();
  busy.send(headers(1, Flag.END_HEADERS | Flag.END_STREAM));
  await Bun.sleep(120);
  expect(goAwayCode(await idle.frames())).toBe(ErrorCode.NO_ERROR);
  expect(idle.state.ended).toBe(true);
  expect(busy.state.ended).toBe(false);
  busy.connection.destroy();
  expect(busy.streams[0]!.events).toEqual(["end", "abort"]);
});

test("rapid reset (CVE-2023-44487): more cancels than completed calls beyond 200 closes the connection", async () => {
  const client = harness({ maxConcurrentStreams: 1000 });
  await client.open();
  let id = 1;
  // Completed calls earn room for as many cancels.
  for (let i = 0; i < 250; i++, id += 2) {
    client.send(headers(id, Flag.END_HEADERS | Flag.END_STREAM));
    client.streams.at(-1)!.stream.sendHeaders(encodeHeaderBlock([[":status", "200"]]), true);
  }
  for (let i = 0; i < 250; i++, id += 2) client.send(headers(id), frame(FrameType.RST_STREAM, 0, id, words(ErrorCode.CANCEL)));
  expect(client.state.ended).toBe(false);
  client.send(headers(id), frame(FrameType.RST_STREAM, 0, id, words(ErrorCode.CANCEL)));
  expect(goAwayCode(await client.frames())).toBe(ErrorCode.ENHANCE_YOUR_CALM);
  expect(client.state.ended).toBe(true);
});

test("a closed transport aborts every open stream", async () => {
  const client = harness();
  await client.open();
  client.send(headers(1), headers(3, Flag.END_HEADERS | Flag.END_STREAM));
  client.connection.closed();
  expect(client.streams.map((entry) => entry.events)).toEqual([["abort"], ["end", "abort"]]);
  expect(client.state.closed).toBe(true);
});

test("connection phases: every edge", () => {
  expect(connectionTransition("preface", "preface")).toBe("settings");
  expect(connectionTransition("settings", "settings")).toBe("open");
  expect(connectionTransition("open", "settings")).toBe("open");
  expect(connectionTransition("preface", "settings")).toBe("preface");
  expect(connectionTransition("open", "goaway")).toBe("going-away");
  expect(connectionTransition("going-away", "settings")).toBe("going-away");
  expect(connectionTransition("going-away", "close")).toBe("closed");
  expect(connectionTransition("closed", "preface")).toBe("closed");
});

test("a repeated request field list reuses its validated headers; a changed one is validated anew", async () => {
  const h = harness();
  await h.open();
  const block = (fields: HeaderField[]) => encodeHeaderBlock(fields);
  const other: HeaderField[] = REQUEST.map(([name, value]) => [name, name === ":path" ? "/svc/Other" : value]);
  const bad: HeaderField[] = [...REQUEST, ["connection", "close"]];
  h.send(frame(FrameType.HEADERS, Flag.END_HEADERS | Flag.END_STREAM, 1, block(REQUEST)));
  h.send(frame(FrameType.HEADERS, Flag.END_HEADERS | Flag.END_STREAM, 3, block(REQUEST)));
  h.send(frame(FrameType.HEADERS, Flag.END_HEADERS | Flag.END_STREAM, 5, block(other)));
  h.send(frame(FrameType.HEADERS, Flag.END_HEADERS | Flag.END_STREAM, 7, block(bad)));
  h.send(frame(FrameType.HEADERS, Flag.END_HEADERS | Flag.END_STREAM, 9, block(REQUEST)));
  const [first, second, third, fourth] = h.streams;
  expect(second!.headers).toBe(first!.headers);
  expect(third!.headers[":path"]).toBe("/svc/Other");
  expect(fourth!.headers[":path"]).toBe("/svc/Method");
  expect(h.streams.length).toBe(4); // the malformed request (stream 7) never reached the application
  expect((await h.frames()).some((f) => f.type === FrameType.RST_STREAM && f.stream === 7)).toBe(true);
});

test("DATA handed to the application and a partial frame kept for later are copies, never views of the transport's Buffer", async () => {
  const client = harness();
  await client.open();
  client.send(headers(1, Flag.END_HEADERS));
  const data = frame(FrameType.DATA, Flag.END_STREAM, 1, Uint8Array.of(1, 2, 3));
  const chunk = Buffer.from(data);
  client.send(chunk.subarray(0, 10)); // a partial frame, kept until the rest arrives
  const rest = Buffer.from(chunk.subarray(10));
  chunk.fill(0xee);
  client.send(rest);
  rest.fill(0xee);
  expect(client.streams[0]!.data.map((bytes) => [...bytes])).toEqual([[1, 2, 3]]);
  expect(client.streams[0]!.events).toEqual(["end"]);
});

test("no preface and SETTINGS within the handshake deadline: closed (GOAWAY SETTINGS_TIMEOUT after a preface), counted", async () => {
  const silent = harness({ handshakeTimeoutMs: 30 });
  silent.send(PREFACE.subarray(0, 5));
  const prefaced = harness({ handshakeTimeoutMs: 30 });
  prefaced.send(PREFACE);
  const done = harness({ handshakeTimeoutMs: 30 });
  await done.open();
  await Bun.sleep(80);
  expect([silent.state.closed, prefaced.state.closed, done.state.closed]).toEqual([true, true, false]);
  expect(goAwayCode(await silent.frames())).toBeUndefined();
  expect(goAwayCode(await prefaced.frames())).toBe(ErrorCode.SETTINGS_TIMEOUT);
  expect(silent.counters.handshakeTimeouts + prefaced.counters.handshakeTimeouts).toBe(2);
});

test("a reply held back by a zero window past the write deadline is reset (CANCEL) and its stream freed", async () => {
  const client = harness({ writeTimeoutMs: 40 });
  await client.open([[Setting.INITIAL_WINDOW_SIZE, 0]]);
  client.send(headers(1, Flag.END_HEADERS | Flag.END_STREAM));
  const stream = client.streams[0]!.stream;
  stream.sendHeaders(encodeHeaderBlock([[":status", "200"]]), false);
  stream.sendData(new Uint8Array(25).fill(1), false);
  stream.sendHeaders(encodeHeaderBlock([["grpc-status", "0"]]), true);
  expect(client.connection.openStreams).toBe(1);
  await Bun.sleep(120);
  const reply = await client.frames();
  expect(reply.map((f) => [f.type, f.stream, f.type === FrameType.RST_STREAM ? u32(f.payload) : -1])).toEqual([
    [FrameType.HEADERS, 1, -1],
    [FrameType.RST_STREAM, 1, ErrorCode.CANCEL],
  ]);
  expect(client.connection.openStreams).toBe(0);
  expect(client.counters.writeTimeouts).toBe(1);
});

test("an answer given on the last DATA frame is followed by one RST_STREAM, not two", async () => {
  const client = harness({ answerOnData: true });
  await client.open();
  client.send(headers(1), frame(FrameType.DATA, Flag.END_STREAM, 1, Uint8Array.of(0, 0, 0, 0, 0)));
  const reply = await client.frames();
  expect(reply.filter((f) => f.type === FrameType.RST_STREAM).length).toBeLessThanOrEqual(1);
  expect(client.state.errors).toEqual([]);
});

test("control-frame floods (PING, SETTINGS, WINDOW_UPDATE, PRIORITY) end with GOAWAY ENHANCE_YOUR_CALM, counted", async () => {
  for (const flood of [
    frame(FrameType.PING, 0, 0, new Uint8Array(8)),
    frame(FrameType.SETTINGS, 0, 0),
    frame(FrameType.WINDOW_UPDATE, 0, 0, words(1)),
    frame(FrameType.PRIORITY, 0, 3, new Uint8Array(5)),
  ]) {
    const client = harness();
    await client.open();
    client.send(...Array.from({ length: 1200 }, () => flood));
    expect(goAwayCode(await client.frames())).toBe(ErrorCode.ENHANCE_YOUR_CALM);
    expect(client.counters.controlFloods).toBe(1);
  }
  // Requests earn control frames: a client answering each reply with a WINDOW_UPDATE is fine.
  const busy = harness({ maxConcurrentStreams: 5000, answerAtOnce: true });
  await busy.open();
  for (let i = 0; i < 2000; i++) busy.send(headers(2 * i + 1, Flag.END_HEADERS | Flag.END_STREAM), frame(FrameType.WINDOW_UPDATE, 0, 0, words(100)));
  expect(goAwayCode(await busy.frames())).toBeUndefined();
});

test("SETTINGS_INITIAL_WINDOW_SIZE changes apply to open streams without walking them; overflow is still caught", async () => {
  const client = harness({ maxConcurrentStreams: 2000 });
  await client.open([[Setting.INITIAL_WINDOW_SIZE, 0]]);
  for (let i = 0; i < 1000; i++) client.send(headers(2 * i + 1, Flag.END_HEADERS | Flag.END_STREAM));
  const last = client.streams[999]!.stream;
  last.sendHeaders(encodeHeaderBlock([[":status", "200"]]), false);
  last.sendData(new Uint8Array(10), false);
  const entries = Array.from({ length: 31 }, (_, i): [number, number] => [Setting.INITIAL_WINDOW_SIZE, i % 7]);
  const started = performance.now();
  for (let i = 0; i < 900; i++) client.send(frame(FrameType.SETTINGS, 0, 0, settingsPayload([...entries, [Setting.INITIAL_WINDOW_SIZE, 6]])));
  // 900 frames × 32 entries over 1,000 open streams: a walk per entry would be ~29 million steps.
  expect(performance.now() - started).toBeLessThan(500);
  const data = (await client.frames()).filter((f) => f.type === FrameType.DATA);
  expect(data.map((f) => f.payload.length)).toEqual([6]);
  client.send(frame(FrameType.WINDOW_UPDATE, 0, 1999, words(2 ** 31 - 10)));
  client.send(frame(FrameType.SETTINGS, 0, 0, settingsPayload([[Setting.INITIAL_WINDOW_SIZE, 100]])));
  expect(goAwayCode(await client.frames())).toBe(ErrorCode.FLOW_CONTROL_ERROR);
});

test("a SETTINGS frame with more than 32 entries is a flood: GOAWAY ENHANCE_YOUR_CALM", async () => {
  const client = harness();
  await client.open();
  client.send(frame(FrameType.SETTINGS, 0, 0, settingsPayload(Array.from({ length: 33 }, (): [number, number] => [Setting.INITIAL_WINDOW_SIZE, 1000]))));
  expect(goAwayCode(await client.frames())).toBe(ErrorCode.ENHANCE_YOUR_CALM);
  expect(client.counters.controlFloods).toBe(1);
});
