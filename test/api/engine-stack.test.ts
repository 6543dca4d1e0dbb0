/**
 * The API in front of the real upstream engine and two fault-injecting TACACS+ test servers
 * (loopback, shared secret): every RPC end to end, then failover to the backup server.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startApiServer, type ApiServer } from "../../src/api";
import { callUnary } from "../../src/api/client";
import { Secret } from "../../src/common/secret";
import { createEngine, type UpstreamEngine, type UpstreamServer } from "../../src/upstream";
import { startTacacsServer, type TestServer } from "../support/tacacs-server";

const KEY = "labkey123";
let dir: string;
let servers: TestServer[];
let engine: UpstreamEngine;
let api: ApiServer;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "api-stack-"));
  servers = [await startTacacsServer({ key: KEY }), await startTacacsServer({ key: KEY })];
  const upstreams: UpstreamServer[] = servers.map((server, i) => ({
    name: i === 0 ? "primary" : "backup",
    host: server.host,
    port: server.port,
    sharedSecret: Secret.fromText(KEY),
    security: { kind: "tcp" },
    singleConnection: true,
    timeoutMs: 1000,
  }));
  engine = createEngine({ servers: upstreams, connectTimeoutMs: 1000, probeIntervalMs: 60_000, maxSessionsInFlight: 256 });
  api = await startApiServer({
    engine,
    endpoint: { kind: "unix", path: join(dir, "agent.sock") },
    socketMode: 0o660,
    limits: { maxApiStreams: 64, maxGrpcMessageBytes: 4 * 1024 * 1024 },
  });
});

afterAll(async () => {
  await api?.close(0);
  await engine?.close();
  await Promise.all(servers.map((server) => server.stop()));
  rmSync(dir, { recursive: true, force: true });
});

const names = { user: "alice", port: "tty0", remoteAddress: "10.0.0.1" };
const shell = (command: string) => [
  { name: "service", value: "shell", mandatory: true },
  { name: "cmd", value: command.split(" ")[0]!, mandatory: true },
  ...command.split(" ").slice(1).map((value) => ({ name: "cmd-arg", value, mandatory: true })),
];
const call = (method: Parameters<typeof callUnary>[1], request: object) => callUnary(api.endpoint, method, request, 3000) as Promise<Record<string, any>>;

test("every RPC through the real engine to a TACACS+ server", async () => {
  expect((await call("AuthenticatePap", { ...names, password: new TextEncoder().encode("alicepw"), privilegeLevel: 1 })).response).toMatchObject({
    server: "primary",
    status: "AUTHENTICATION_STATUS_PASS",
  });
  expect((await call("AuthenticatePap", { ...names, password: new TextEncoder().encode("wrong") })).response.status).toBe("AUTHENTICATION_STATUS_FAIL");

  const context = "AUTHORIZATION_AUTHENTICATION_CONTEXT_TACACS_PAP";
  expect((await call("Authorization", { ...names, authenticationContext: context, args: shell("show version") })).response.status).toBe("AUTHORIZATION_STATUS_PASS_ADD");
  expect((await call("Authorization", { ...names, authenticationContext: context, args: shell("reload") })).response.status).toBe("AUTHORIZATION_STATUS_FAIL");

  const accounting = await call("Accounting", { ...names, command: "show", commandArguments: ["version"], taskId: "17" });
  expect(accounting.response).toMatchObject({ server: "primary", status: "ACCOUNTING_STATUS_SUCCESS" });
  const record = servers[0]!.records.at(-1)!;
  expect(record).toMatchObject({ flags: 0x04, user: "alice", port: "tty0", remAddr: "10.0.0.1" });
  expect(record.args.map((a) => `${a.name}=${a.value}`)).toEqual(["service=shell", "cmd=show", "cmd-arg=version", "task_id=17"]);

  const status = await call("Status", {});
  expect(status.state).toBe("FAILOVER_STATE_PREFERRED_ACTIVE");
  expect(status.servers[0]).toMatchObject({ name: "primary", connected: true });
  expect(status.servers[0].counters.messagesReceived).toBeGreaterThanOrEqual(5);
});

test("the preferred server stops: the request succeeds on the backup", async () => {
  await servers[0]!.stop();
  const accounting = await call("Accounting", { ...names, command: "show" });
  // Accounting is not re-sent behind the caller's back once it may have reached a server; a
  // retriable error is the correct answer then, and the retry goes to the backup.
  const reply = accounting.result === "error" && accounting.error.retriable ? await call("Accounting", { ...names, command: "show" }) : accounting;
  expect(reply.response).toMatchObject({ server: "backup", status: "ACCOUNTING_STATUS_SUCCESS" });
  const authorization = await call("Authorization", { ...names, authenticationContext: "AUTHORIZATION_AUTHENTICATION_CONTEXT_TACACS_PAP", args: shell("show version") });
  expect(authorization.response).toMatchObject({ server: "backup", status: "AUTHORIZATION_STATUS_PASS_ADD" });
  expect((await call("Status", {})).state).toBe("FAILOVER_STATE_FAILED_OVER");
});
