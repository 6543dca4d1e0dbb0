import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FakeEngine, hang, passReply } from "../../test/support/api-fake-engine";
import { ApiCallError, callUnary } from "./client";
import { startApiServer, type ApiServer } from "./index";
import { Status } from "./status";

const dir = mkdtempSync(join(tmpdir(), "api-client-"));
const engine = new FakeEngine();
let api: ApiServer;

beforeAll(async () => {
  api = await startApiServer({ engine, endpoint: { kind: "tcp", host: "127.0.0.1", port: 0 }, socketMode: 0o660, limits: { maxApiStreams: 8, maxGrpcMessageBytes: 4096 } });
});

afterAll(async () => {
  await api.close(0);
  rmSync(dir, { recursive: true, force: true });
});

async function callError(promise: Promise<unknown>): Promise<ApiCallError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(ApiCallError);
    return error as ApiCallError;
  }
  throw new Error("expected an ApiCallError");
}

test("loopback TCP: a reply decodes to a plain object with enum names and uint64 as numbers", async () => {
  expect(api.endpoint).toMatchObject({ kind: "tcp", host: "127.0.0.1" });
  const status = await callUnary(api.endpoint, "Status", {}, 2000);
  expect(status.state).toBe("FAILOVER_STATE_FAILED_OVER");
  expect((status.servers as any[])[0].counters.connectionFailures).toBe(3);
  const pap = await callUnary(api.endpoint, "AuthenticatePap", { user: "admin", password: new TextEncoder().encode("pw") }, 2000);
  expect(pap).toMatchObject({ result: "response", response: { status: "AUTHENTICATION_STATUS_PASS" } });
});

test("a non-OK grpc-status becomes ApiCallError with the code and the decoded message", async () => {
  const error = await callError(callUnary(api.endpoint, "Accounting", { user: "é\u0001" }, 2000));
  expect(error.code).toBe(Status.INVALID_ARGUMENT);
  expect(error.codeName).toBe("INVALID_ARGUMENT");
  expect(error.message).toBe("invalid user: must not contain control characters (NUL, newline, ...)");
  expect(error.unreachable).toBe(false);
});

test("the timeout is sent as grpc-timeout and enforced locally", async () => {
  engine.answer = hang;
  const error = await callError(callUnary(api.endpoint, "Accounting", { user: "admin" }, 150));
  engine.answer = passReply;
  expect(error.code).toBe(Status.DEADLINE_EXCEEDED);
  expect(engine.requests.at(-1)!.deadline - Date.now()).toBeLessThan(100);
});

test("an unreachable agent is UNAVAILABLE and says so", async () => {
  const missing = await callError(callUnary({ kind: "unix", path: join(dir, "none.sock") }, "HealthCheck", {}, 1000));
  expect(missing).toMatchObject({ code: Status.UNAVAILABLE, unreachable: true });
  expect(missing.message).toContain(join(dir, "none.sock"));
  const refused = await callError(callUnary({ kind: "tcp", host: "127.0.0.1", port: 1 }, "HealthCheck", {}, 1000));
  expect(refused).toMatchObject({ code: Status.UNAVAILABLE, unreachable: true });
});

test("a request that does not fit the schema is refused before sending", async () => {
  const before = engine.requests.length;
  const error = await callError(callUnary(api.endpoint, "Authorization", { args: "service=shell" }, 1000));
  expect(error.code).toBe(Status.INVALID_ARGUMENT);
  expect(error.message).toContain("args: array expected");
  expect(engine.requests.length).toBe(before);
});
