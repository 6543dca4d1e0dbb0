/**
 * The API under h2load (Debian's nghttp2-client), an HTTP/2 client we did not write: 20,000 gRPC
 * calls over loopback TCP with 4 connections × 16 streams, then calls with 15-byte stream and
 * connection windows, so every reply waits for WINDOW_UPDATE frames. Every call must succeed and
 * reach the engine. With CI=true a missing h2load fails the test instead of skipping it.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startApiServer, type ApiServer } from "../../src/api";
import { encodeMessage } from "../../src/api/framing";
import { apiType } from "../../src/api/proto";
import { FakeEngine } from "../support/api-fake-engine";

const inCi = process.env.CI === "true";
const available = Bun.which("h2load") !== null;
if (!available && inCi) throw new Error("h2load is missing (apt-get install nghttp2-client; CI=true)");

let dir: string;
let api: ApiServer;
let body: string;
const engine = new FakeEngine();

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "api-h2load-"));
  body = join(dir, "accounting.bin");
  const AccountingRequest = apiType("tacacsrs.agent.v1.AccountingRequest");
  writeFileSync(body, encodeMessage(AccountingRequest.encode({ user: "admin", port: "tty1", remoteAddress: "10.0.0.1", command: "show version" }).finish()));
  api = await startApiServer({ engine, endpoint: { kind: "tcp", host: "127.0.0.1", port: 0 }, socketMode: 0o660, limits: { maxApiStreams: 256, maxGrpcMessageBytes: 4096 } });
});

afterAll(async () => {
  await api.close(0);
  rmSync(dir, { recursive: true, force: true });
});

async function h2load(args: string[]): Promise<string> {
  const { port } = api.endpoint as { port: number };
  const url = `http://127.0.0.1:${port}/tacacsrs.agent.v1.TacacsAgent/Accounting`;
  const child = Bun.spawn(["h2load", ...args, "-d", body, "-H", "content-type: application/grpc", "-H", "te: trailers", url], { stdout: "pipe", stderr: "pipe" });
  const timer = setTimeout(() => child.kill(), 20_000);
  try {
    const output = await new Response(child.stdout).text();
    await child.exited;
    return output;
  } finally {
    clearTimeout(timer);
  }
}

test.skipIf(!available)("h2load: 20,000 calls, 4 connections × 16 streams, 0 errors", async () => {
  engine.requests.length = 0;
  const output = await h2load(["-n", "20000", "-c", "4", "-m", "16"]);
  expect(output).toContain("requests: 20000 total, 20000 started, 20000 done, 20000 succeeded, 0 failed, 0 errored, 0 timeout");
  expect(output).toContain("status codes: 20000 2xx");
  expect(engine.requests.length).toBe(20_000);
}, 30_000);

test.skipIf(!available)("h2load with 15-byte windows: every reply is paced by WINDOW_UPDATE, 0 errors", async () => {
  engine.requests.length = 0;
  const output = await h2load(["-n", "500", "-c", "2", "-m", "8", "-w", "4", "-W", "4"]);
  expect(output).toContain("requests: 500 total, 500 started, 500 done, 500 succeeded, 0 failed, 0 errored, 0 timeout");
  expect(engine.requests.length).toBe(500);
}, 30_000);
