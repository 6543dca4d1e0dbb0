import { afterEach, beforeEach, expect, test } from "bun:test";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import http2 from "node:http2";
import { connect as netConnect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Endpoint } from "../common/endpoint";
import { silentLogger } from "../common/log";
import { FakeEngine, hang, passReply } from "../../test/support/api-fake-engine";
import { callUnary } from "./client";
import { encodeMessage } from "./framing";
import { startApiServer, type ApiServer, type ApiServerOptions } from "./index";
import { apiType } from "./proto";
import { decodeGrpcMessage, Status } from "./status";
import { until } from "../../test/support/wait";
import { capturingLogger } from "../../test/support/logging";

const ACCOUNTING = "/tacacsrs.agent.v1.TacacsAgent/Accounting";
const HEALTH_CHECK = "/grpc.health.v1.Health/Check";
const HEALTH_WATCH = "/grpc.health.v1.Health/Watch";
const AccountingRequest = apiType("tacacsrs.agent.v1.AccountingRequest");
const AccountingReply = apiType("tacacsrs.agent.v1.AccountingReply");
const HealthCheckResponse = apiType("grpc.health.v1.HealthCheckResponse");
const accountingBody = () => encodeMessage(AccountingRequest.encode({ user: "admin", command: "show version" }).finish());

let dir: string;
let engine: FakeEngine;
let api: ApiServer;
const sessions: http2.ClientHttp2Session[] = [];

/** One uid makes every call here: a peer may use all the slots unless a test says otherwise. */
async function start(limits: ApiServerOptions["limits"] = { maxApiStreams: 16, maxApiStreamsPerPeer: 16, maxGrpcMessageBytes: 1024 }): Promise<void> {
  engine = new FakeEngine();
  api = await startApiServer({ engine, endpoint: { kind: "unix", path: join(dir, "agent.sock") }, socketMode: 0o660, limits, defaultTimeoutMs: 2000 });
}

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), "api-server-"));
  await start();
});

afterEach(async () => {
  for (const session of sessions.splice(0)) session.destroy();
  await api.close(0);
  rmSync(dir, { recursive: true, force: true });
});

function connect(endpoint: Endpoint = api.endpoint): http2.ClientHttp2Session {
  const path = (endpoint as { path: string }).path;
  const session = http2.connect("http://localhost", { createConnection: () => netConnect({ path }) });
  session.on("error", () => {});
  sessions.push(session);
  return session;
}

interface RawResult {
  http: number;
  status: number | undefined;
  message: string;
  messages: Uint8Array;
}

/** One request with full control over headers and body bytes. */
function raw(
  options: { path?: string; headers?: http2.OutgoingHttpHeaders; body?: Uint8Array; session?: http2.ClientHttp2Session; onStream?: (s: http2.ClientHttp2Stream) => void } = {},
): Promise<RawResult> {
  const session = options.session ?? connect();
  return new Promise((resolve, reject) => {
    const stream = session.request({
      ":method": "POST",
      ":path": options.path ?? ACCOUNTING,
      "content-type": "application/grpc",
      te: "trailers",
      ...options.headers,
    });
    const result: RawResult = { http: 0, status: undefined, message: "", messages: new Uint8Array() };
    const take = (headers: http2.IncomingHttpHeaders) => {
      if (headers[":status"] !== undefined) result.http = Number(headers[":status"]);
      if (headers["grpc-status"] !== undefined) {
        result.status = Number(headers["grpc-status"]);
        result.message = decodeGrpcMessage(String(headers["grpc-message"] ?? ""));
      }
    };
    const chunks: Uint8Array[] = [];
    stream.on("response", take);
    stream.on("trailers", take);
    stream.on("data", (chunk: Uint8Array) => chunks.push(chunk));
    stream.on("error", () => {});
    stream.on("close", () => {
      result.messages = new Uint8Array(Buffer.concat(chunks));
      resolve(result);
    });
    setTimeout(() => reject(new Error("raw call did not finish")), 5000).unref();
    options.onStream?.(stream);
    if (options.body !== undefined) stream.end(options.body);
  });
}

/** A normal call still works (the server survived whatever the test did before). */
async function expectServing(): Promise<void> {
  const reply = await callUnary(api.endpoint, "Accounting", { user: "admin", command: "show" }, 2000);
  expect(reply.result).toBe("response");
}

test("a unary call: headers, one message, grpc-status 0 in the trailers", async () => {
  const result = await raw({ body: accountingBody() });
  expect(result).toMatchObject({ http: 200, status: 0 });
  expect(result.messages[0]).toBe(0);
  const reply = AccountingReply.toObject(AccountingReply.decode(result.messages.subarray(5)), { oneofs: true }) as any;
  expect(reply.result).toBe("response");
  expect(reply.response.server).toBe("fake-server");
  // application/grpc+proto is the same protocol
  expect((await raw({ body: accountingBody(), headers: { "content-type": "application/grpc+proto" } })).status).toBe(0);
});

test("not gRPC: wrong content-type is HTTP 415, GET is 405", async () => {
  for (const contentType of ["text/plain", "application/grpc+json", "application/json"]) {
    const result = await raw({ body: accountingBody(), headers: { "content-type": contentType } });
    expect(result).toMatchObject({ http: 415, status: Status.INVALID_ARGUMENT });
    expect(result.message).toContain("content-type");
  }
  const get = await raw({ headers: { ":method": "GET" }, onStream: (s) => s.end() });
  expect(get).toMatchObject({ http: 405, status: Status.UNIMPLEMENTED });
  await expectServing();
});

test("unknown methods are UNIMPLEMENTED", async () => {
  for (const path of ["/tacacsrs.agent.v1.TacacsAgent/Nope", "/other.Service/Accounting", "/"]) {
    const result = await raw({ path, body: accountingBody() });
    expect(result).toMatchObject({ http: 200, status: Status.UNIMPLEMENTED });
    expect(result.message).toContain("unknown method");
  }
  await expectServing();
});

test("malformed protobuf and bad field values are INVALID_ARGUMENT with a specific message", async () => {
  const garbage = await raw({ body: encodeMessage(new Uint8Array([0x0a, 0xff, 0xff, 0xff])) });
  expect(garbage.status).toBe(Status.INVALID_ARGUMENT);
  expect(garbage.message).toContain("malformed AccountingRequest");
  const bad = await raw({ body: encodeMessage(AccountingRequest.encode({ user: "a\u0000b" }).finish()) });
  expect(bad).toMatchObject({ status: Status.INVALID_ARGUMENT, message: "invalid user: must not contain control characters (NUL, newline, ...)" });
  expect(engine.requests.length).toBe(0);
  await expectServing();
});

test("framing errors: no message, truncated, two messages, compressed, bad grpc-timeout", async () => {
  const one = accountingBody();
  const cases: Array<[Uint8Array, number, string, http2.OutgoingHttpHeaders?]> = [
    [new Uint8Array(), Status.INTERNAL, "without a message"],
    [one.subarray(0, one.length - 1), Status.INTERNAL, "stray bytes"],
    [new Uint8Array([...one, ...one]), Status.INTERNAL, "more than one"],
    [new Uint8Array([1, ...one.subarray(1)]), Status.UNIMPLEMENTED, "compressed", { "grpc-encoding": "gzip" }],
    [one, Status.INVALID_ARGUMENT, "grpc-timeout", { "grpc-timeout": "soon" }],
  ];
  for (const [body, status, text, headers] of cases) {
    const result = await raw({ body, headers });
    expect(result.status).toBe(status);
    expect(result.message).toContain(text);
  }
  await expectServing();
});

test("an oversized message is RESOURCE_EXHAUSTED at once, even while the client is still sending", async () => {
  const announced = await raw({ body: new Uint8Array([0, 0, 0, 0x10, 0]) });
  expect(announced.status).toBe(Status.RESOURCE_EXHAUSTED);
  expect(announced.message).toContain("4096 bytes exceeds the limit of 1024");
  // 256 KiB the server never reads to the end: it answers and resets the rest.
  const big = new Uint8Array(256 * 1024 + 5);
  new DataView(big.buffer).setUint32(1, 256 * 1024);
  const result = await raw({ body: big });
  expect(result.status).toBe(Status.RESOURCE_EXHAUSTED);
  await expectServing();
});

test("grpc-timeout is honoured: DEADLINE_EXCEEDED and the upstream request is aborted", async () => {
  engine.answer = hang;
  const started = Date.now();
  const result = await raw({ body: accountingBody(), headers: { "grpc-timeout": "100m" } });
  expect(result.status).toBe(Status.DEADLINE_EXCEEDED);
  expect(Date.now() - started).toBeGreaterThanOrEqual(95);
  expect(Date.now() - started).toBeLessThan(1000);
  expect(engine.requests[0]!.deadline - started).toBeLessThan(200);
  expect(engine.aborted).toBe(1);
  engine.answer = passReply;
  await expectServing();
});

test("without grpc-timeout the default deadline applies", async () => {
  const before = Date.now();
  await raw({ body: accountingBody() });
  const deadline = engine.requests[0]!.deadline - before;
  expect(deadline).toBeGreaterThanOrEqual(1990);
  expect(deadline).toBeLessThan(2100);
});

test("a caller that goes away cancels the upstream request; the server keeps serving", async () => {
  engine.answer = hang;
  const session = connect();
  const stream = session.request({ ":method": "POST", ":path": ACCOUNTING, "content-type": "application/grpc" });
  stream.on("error", () => {});
  stream.end(accountingBody());
  await until(() => engine.requests.length === 1, 2000, "the request");
  stream.close(http2.constants.NGHTTP2_CANCEL);
  await until(() => engine.aborted === 1, 2000, "the abort");
  // A whole connection dropping mid-call does the same.
  const second = connect();
  const pending = second.request({ ":method": "POST", ":path": ACCOUNTING, "content-type": "application/grpc" });
  pending.on("error", () => {});
  pending.end(accountingBody());
  await until(() => engine.requests.length === 2, 2000, "the second request");
  second.destroy();
  await until(() => engine.aborted === 2, 2000, "the second abort");
  await until(() => api.activeCalls === 0, 2000, "no calls in flight");
  engine.answer = passReply;
  await expectServing();
});

const callLimits = [
  ["the concurrent-call limit holds over all connections", { maxApiStreams: 2, maxApiStreamsPerPeer: 2 }, "too many concurrent calls (limit 2)", { callsRefused: 1, peerCallsRefused: 0 }],
  // Every call here comes from this test's uid.
  ["one peer (uid) holds at most --max-api-streams-per-peer calls, however many connections it opens", { maxApiStreams: 4, maxApiStreamsPerPeer: 2 }, `uid ${process.getuid!()} has 2 calls in flight (--max-api-streams-per-peer 2)`, { callsRefused: 0, peerCallsRefused: 1 }],
] as const;
for (const [name, limits, message, counted] of callLimits) {
  test(`${name}: RESOURCE_EXHAUSTED beyond it`, async () => {
    await api.close(0);
    await start({ ...limits, maxGrpcMessageBytes: 1024 });
    engine.answer = hang;
    const held = [connect(), connect()].map((session) => raw({ session, body: accountingBody(), headers: { "grpc-timeout": "300m" } }));
    await until(() => engine.requests.length === 2, 2000, "two calls in flight");
    const refused = await raw({ body: accountingBody() });
    expect(refused).toMatchObject({ status: Status.RESOURCE_EXHAUSTED, message });
    expect(api.counters.calls).toMatchObject(counted);
    expect((await Promise.all(held)).map((r) => r.status)).toEqual([Status.DEADLINE_EXCEEDED, Status.DEADLINE_EXCEEDED]);
    engine.answer = passReply;
    await expectServing();
  });
}

test("one peer holds at most --max-api-connections-per-peer connections: its own silent one makes room, else GOAWAY", async () => {
  await api.close(0);
  await start({ maxApiStreams: 4, maxApiConnections: 8, maxApiConnectionsPerPeer: 2, maxGrpcMessageBytes: 1024 });
  const path = (api.endpoint as { path: string }).path;
  // A connection that never completed a request gives its slot to the peer's next one.
  const silent = netConnect({ path });
  silent.on("error", () => {});
  silent.resume();
  const silentClosed = new Promise((resolve) => silent.on("close", resolve));
  await new Promise((resolve) => silent.on("connect", resolve));
  const productive = [connect(), connect()];
  for (const session of productive) expect((await raw({ session, body: accountingBody() })).status).toBe(0);
  await silentClosed;
  expect(api.counters.http2.connectionsEvicted).toBe(1);
  // Both slots hold connections that completed a request: the third is refused with a reason.
  const refused = netConnect({ path });
  refused.on("error", () => {});
  const received: Buffer[] = [];
  refused.on("data", (chunk: Buffer) => received.push(chunk));
  await new Promise((resolve) => refused.on("close", resolve));
  const bytes = Buffer.concat(received);
  // Our SETTINGS (9 bytes, empty), then GOAWAY: last stream 0, error code, debug data.
  expect([bytes[3], bytes[9 + 3]]).toEqual([0x4, 0x7]);
  expect(bytes.readUInt32BE(18 + 4)).toBe(http2.constants.NGHTTP2_ENHANCE_YOUR_CALM);
  expect(bytes.subarray(18 + 8).toString()).toBe(`uid ${process.getuid!()} has 2 open connections (--max-api-connections-per-peer 2)`);
  expect(api.counters.http2).toMatchObject({ peerConnectionsRefused: 1, connectionsRefused: 0 });
  expect(api.counters.peers).toBe(1);
  productive[0]!.destroy();
  await until(() => productive[0]!.destroyed, 2000, "a freed slot");
  await Bun.sleep(50);
  await expectServing();
});

test("an unexpected handler error is INTERNAL without details", async () => {
  engine.answer = () => {
    throw new TypeError("secret internals");
  };
  const result = await raw({ body: accountingBody() });
  expect(result).toMatchObject({ status: Status.INTERNAL, message: "internal error in the agent" });
});

test("garbage instead of the HTTP/2 preface is dropped; the server keeps serving", async () => {
  const preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00";
  const garbage = [
    "GET / HTTP/1.1\r\nHost: x\r\n\r\n",
    "\x00".repeat(100),
    // a valid preface, then DATA on stream 0 (a connection error)
    `${preface}\x00\x00\x04\x00\x00\x00\x00\x00\x00abcd`,
    // a valid preface, then HEADERS whose HPACK block is garbage
    `${preface}\x00\x00\x05\x01\x05\x00\x00\x00\x01\xff\xff\xff\xff\xff`,
  ];
  for (const bytes of garbage) {
    const socket = netConnect({ path: (api.endpoint as { path: string }).path });
    socket.on("error", () => {});
    socket.resume(); // read (and drop) the server's GOAWAY, so that "close" can fire
    socket.write(Buffer.from(bytes, "latin1"));
    const closedByServer = await new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), 2000);
      socket.on("close", () => {
        clearTimeout(timer);
        resolve(true);
      });
    });
    socket.destroy();
    expect([bytes.slice(0, 30), closedByServer]).toEqual([bytes.slice(0, 30), true]);
  }
  await expectServing();
});

test("health: Check SERVING for the server and our services, NOT_FOUND otherwise; Watch streams the status", async () => {
  const HealthCheckRequest = apiType("grpc.health.v1.HealthCheckRequest");
  for (const service of ["", "tacacsrs.agent.v1.TacacsAgent", "grpc.health.v1.Health"]) {
    const result = await raw({ path: HEALTH_CHECK, body: encodeMessage(HealthCheckRequest.encode({ service }).finish()) });
    expect(result.status).toBe(0);
    expect((HealthCheckResponse.decode(result.messages.subarray(5)) as any).status).toBe(1);
  }
  const unknown = await raw({ path: HEALTH_CHECK, body: encodeMessage(HealthCheckRequest.encode({ service: "nope" }).finish()) });
  expect(unknown.status).toBe(Status.NOT_FOUND);

  let firstMessage: Uint8Array | undefined;
  const watch = raw({
    path: HEALTH_WATCH,
    body: encodeMessage(HealthCheckRequest.encode({}).finish()),
    onStream: (s) => s.once("data", (chunk: Uint8Array) => (firstMessage = chunk)),
  });
  await until(() => firstMessage !== undefined, 2000, "the first Watch message");
  expect((HealthCheckResponse.decode(firstMessage!.subarray(5)) as any).status).toBe(1);
  // The watch does not hold up shutdown: it ends at once with UNAVAILABLE.
  const started = Date.now();
  await api.close(5000);
  expect(Date.now() - started).toBeLessThan(1000);
  expect((await watch).status).toBe(Status.UNAVAILABLE);
});

test("one peer holds at most half of the Watch streams, over all its connections", async () => {
  await api.close(0);
  await start({ maxApiStreams: 16, maxApiStreamsPerPeer: 16, maxApiWatchStreams: 4, maxGrpcMessageBytes: 1024 });
  const watch = () => raw({ path: HEALTH_WATCH, body: encodeMessage(new Uint8Array()) });
  // A quarter of 4 per connection, so each Watch on its own connection; the peer's half is 2.
  const held = [watch(), watch()];
  await until(() => api.activeCalls === 2, 2000, "two Watch streams");
  expect(await watch()).toMatchObject({ status: Status.RESOURCE_EXHAUSTED, message: "too many streaming calls (limit 4, a quarter of it per connection, half per peer)" });
  expect(api.counters.calls.streamingRefused).toBe(1);
  await api.close(0);
  expect((await Promise.all(held)).map((r) => r.status)).toEqual([Status.UNAVAILABLE, Status.UNAVAILABLE]);
});

test("graceful close: in-flight calls finish within the grace period, new calls are refused, the socket is removed", async () => {
  const path = (api.endpoint as { path: string }).path;
  engine.answer = async (request) => {
    await Bun.sleep(150);
    return passReply(request);
  };
  const session = connect();
  const inFlight = raw({ session, body: accountingBody() });
  await until(() => engine.requests.length === 1, 2000, "the request");
  const closing = api.close(2000);
  expect((await inFlight).status).toBe(0);
  await closing;
  expect(existsSync(path)).toBe(false);
  await expect(callUnary(api.endpoint, "HealthCheck", {}, 500)).rejects.toMatchObject({ unreachable: true });
});

test("graceful close: calls still running after the grace period are cancelled with UNAVAILABLE", async () => {
  engine.answer = hang;
  const inFlight = raw({ body: accountingBody() });
  await until(() => engine.requests.length === 1, 2000, "the request");
  const started = Date.now();
  await api.close(100);
  expect(Date.now() - started).toBeLessThan(1500);
  expect(await inFlight).toMatchObject({ status: Status.UNAVAILABLE });
  expect(engine.aborted).toBe(1);
});

test("a reply that cannot be encoded is INTERNAL, and the server keeps serving", async () => {
  const { GrpcServer } = await import("./server");
  const { methodsOf } = await import("./proto");
  const check = methodsOf("grpc.health.v1.Health").find((m) => m.path.endsWith("/Check"))!;
  const server = new GrpcServer({
    routes: [
      {
        method: check,
        kind: "unary",
        handle: async () => ({
          get status(): number {
            throw new Error("broken reply");
          },
        }),
      },
    ],
    maxConcurrentCalls: 4,
    maxMessageBytes: 1024,
    defaultTimeoutMs: 1000,
    log: silentLogger,
  });
  const endpoint = await server.listen({ kind: "unix", path: join(dir, "broken.sock") }, 0o600);
  try {
    const session = connect(endpoint);
    for (let i = 0; i < 2; i++) {
      const result = await raw({ session, path: HEALTH_CHECK, body: encodeMessage(new Uint8Array()) });
      expect(result).toMatchObject({ status: Status.INTERNAL, message: "internal error in the agent" });
    }
  } finally {
    await server.close(0);
  }
});

test("passwords never reach a log line or a grpc-message", async () => {
  await api.close(0);
  const log = capturingLogger();
  const lines = log.lines;
  engine = new FakeEngine();
  api = await startApiServer({ engine, endpoint: { kind: "unix", path: join(dir, "agent2.sock") }, socketMode: 0o660, limits: { maxApiStreams: 4, maxGrpcMessageBytes: 4096 }, log });
  const password = "Pa55-distinctive";
  const ok = await callUnary(api.endpoint, "AuthenticatePap", { user: "admin", password: new TextEncoder().encode(password) }, 2000);
  expect(ok.result).toBe("response");
  const tooLong = password.repeat(20);
  const refused = await callUnary(api.endpoint, "AuthenticatePap", { user: "admin", password: new TextEncoder().encode(tooLong) }, 2000).catch((e: Error) => e);
  expect((refused as Error).message).toBe("invalid password: is 320 bytes, the maximum is 255");
  expect(lines.some((line) => line.includes("admin"))).toBe(true);
  expect(lines.some((line) => line.includes("INVALID_ARGUMENT"))).toBe(true);
  for (const line of lines) expect(line).not.toContain("Pa55");
});

test("idle connections are closed; a connection with a call in flight is kept", async () => {
  const { GrpcServer } = await import("./server");
  const { AgentHealth, healthRoutes } = await import("./health");
  const server = new GrpcServer({ routes: healthRoutes(new AgentHealth(new FakeEngine())), maxConcurrentCalls: 4, maxMessageBytes: 1024, defaultTimeoutMs: 1000, idleTimeoutMs: 150, log: silentLogger });
  const endpoint = await server.listen({ kind: "unix", path: join(dir, "idle.sock") }, 0o600);
  try {
    const quiet = connect(endpoint);
    const watching = connect(endpoint);
    const closed = { quiet: false, watching: false };
    quiet.on("close", () => (closed.quiet = true));
    watching.on("close", () => (closed.watching = true));
    let watchMessages = 0;
    const watch = raw({ session: watching, path: HEALTH_WATCH, body: encodeMessage(new Uint8Array()), onStream: (s) => s.on("data", () => watchMessages++) });
    await until(() => closed.quiet, 2000, "the idle connection to close");
    await Bun.sleep(300);
    expect(closed.watching).toBe(false);
    expect(watchMessages).toBe(1);
    await server.close(0);
    expect((await watch).status).toBe(Status.UNAVAILABLE);
  } finally {
    await server.close(0);
  }
});

test("clients hanging up at every stage never break the server", async () => {
  engine.answer = async (request) => {
    await Bun.sleep(Math.random() * 20);
    return passReply(request);
  };
  const body = accountingBody();
  const stages = ["after headers", "mid body", "after body", "mid reply"] as const;
  const attempts: Promise<void>[] = [];
  for (let i = 0; i < 40; i++) {
    const stage = stages[i % stages.length]!;
    const session = connect();
    const stream = session.request({ ":method": "POST", ":path": ACCOUNTING, "content-type": "application/grpc" });
    stream.on("error", () => {});
    const hangUp = () => (i % 2 === 0 ? stream.close(http2.constants.NGHTTP2_CANCEL) : session.destroy());
    attempts.push(new Promise((resolve) => stream.on("close", resolve)));
    if (stage === "after headers") {
      hangUp();
      continue;
    }
    stream.write(body.subarray(0, 4));
    if (stage === "mid body") {
      setTimeout(hangUp, 1);
      continue;
    }
    stream.end(body.subarray(4));
    if (stage === "after body") setTimeout(hangUp, Math.random() * 10);
    else stream.once("response", hangUp);
  }
  await Promise.all(attempts);
  await until(() => api.activeCalls === 0, 2000, "every call to end");
  // Calls whose body was complete reached the engine; every one of them was ended or aborted.
  expect(engine.requests.length).toBeGreaterThanOrEqual(10);
  await until(() => engine.ended + engine.aborted >= engine.requests.length, 2000, "every upstream session to be ended or aborted");
  await expectServing();
});
