import { expect, test } from "bun:test";
import { encodeMessage, MessageReader } from "./framing";
import { apiType, encodeReply } from "./proto";
import { GrpcError, Status } from "./status";

function expectStatus(run: () => unknown, code: number, text: string): void {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(GrpcError);
    expect((error as GrpcError).code).toBe(code as GrpcError["code"]);
    expect((error as GrpcError).message).toContain(text);
    return;
  }
  throw new Error(`expected grpc-status ${code}`);
}

test("a message split at every byte boundary is reassembled", () => {
  const frame = encodeMessage(new Uint8Array([7, 8, 9]));
  expect([...frame]).toEqual([0, 0, 0, 0, 3, 7, 8, 9]);
  for (let cut = 0; cut <= frame.length; cut++) {
    const reader = new MessageReader(100);
    reader.push(frame.subarray(0, cut));
    reader.push(frame.subarray(cut));
    expect([...reader.single()]).toEqual([7, 8, 9]);
  }
});

test("an empty message is a valid message", () => {
  const reader = new MessageReader(100);
  reader.push(encodeMessage(new Uint8Array()));
  expect(reader.single().length).toBe(0);
});

test("the size limit applies as soon as the prefix arrives", () => {
  const reader = new MessageReader(10);
  expectStatus(() => reader.push(new Uint8Array([0, 0, 0, 0, 11])), Status.RESOURCE_EXHAUSTED, "11 bytes exceeds the limit of 10");
  const exact = new MessageReader(10);
  exact.push(encodeMessage(new Uint8Array(10)));
  expect(exact.single().length).toBe(10);
});

test("compressed and unknown flags are refused", () => {
  expectStatus(() => new MessageReader(10).push(new Uint8Array([1, 0, 0, 0, 1, 0])), Status.UNIMPLEMENTED, "compressed");
  expectStatus(() => new MessageReader(10).push(new Uint8Array([2, 0, 0, 0, 1, 0])), Status.INTERNAL, "flag 2");
});

test("unary: no message, a truncated one, or two messages", () => {
  expectStatus(() => new MessageReader(10).single(), Status.INTERNAL, "without a message");
  const truncated = new MessageReader(10);
  truncated.push(new Uint8Array([0, 0, 0, 0, 4, 1]));
  expectStatus(() => truncated.single(), Status.INTERNAL, "stray bytes");
  const two = new MessageReader(10);
  const both = new Uint8Array([...encodeMessage(new Uint8Array([1])), ...encodeMessage(new Uint8Array([2]))]);
  expectStatus(() => two.push(both), Status.INTERNAL, "more than one");
});

test("a slow sender's tiny chunks are reassembled in linear time (no copy per chunk)", () => {
  const size = 1_000_000;
  const frame = encodeMessage(new Uint8Array(size).fill(7));
  const reader = new MessageReader(4 * 1024 * 1024);
  const started = performance.now();
  for (let at = 0; at < frame.length; at += 16) reader.push(frame.subarray(at, at + 16));
  // Copying the buffer per chunk (62,500 chunks) took minutes; joining once takes milliseconds.
  expect(performance.now() - started).toBeLessThan(2000);
  const message = reader.single();
  expect(message.length).toBe(size);
  expect(message.every((byte) => byte === 7)).toBe(true);
});

test("encodeReply writes the prefixed message in one array, equal to encodeMessage of the encoded message", () => {
  const Reply = apiType("tacacsrs.agent.v1.AccountingReply");
  for (const message of [{}, { response: { server: "s1", serverMessage: "x".repeat(1000), data: "d" } }, { error: { message: "m", server: "s2", retriable: true } }]) {
    const bytes = encodeReply(Reply, message);
    expect([...bytes]).toEqual([...encodeMessage(Reply.encode(message).finish())]);
  }
});

test("a body in 1-byte chunks is held in one buffer of at most twice its size", () => {
  const frame = encodeMessage(new Uint8Array(100_000).fill(3));
  const reader = new MessageReader(4 * 1024 * 1024);
  for (let at = 0; at < 50_000; at++) reader.push(frame.subarray(at, at + 1));
  expect(reader.heldBytes).toBeGreaterThanOrEqual(50_000);
  expect(reader.heldBytes).toBeLessThanOrEqual(100_000);
  for (let at = 50_000; at < frame.length; at++) reader.push(frame.subarray(at, at + 1));
  expect(reader.single().length).toBe(100_000);
  expect(reader.heldBytes).toBe(100_000);
});
