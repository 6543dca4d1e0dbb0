import { afterEach, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Cancellation } from "../common/cancellation";
import { silentLogger } from "../common/log";
import type { PeerCredentials } from "../common/peer-credentials";
import { FakeEngine } from "../../test/support/api-fake-engine";
import { AuditService } from "./audit-service";
import { ApiCallError, callUnary } from "./client";
import { startApiServer, type ApiServer } from "./index";
import type { CallContext, Route } from "./server";
import { GrpcError, Status } from "./status";

const session = { sessionId: 42, loginUid: 61022, user: "alice", port: "pts/3", remoteAddress: "192.0.2.9", privilegeLevel: 15, taskBase: "ssh-42" };
const ROOT: PeerCredentials = { pid: 1, uid: 0, gid: 0 };

function service(now = () => 1_000_000) {
  const audit = new AuditService({ now }, silentLogger);
  const routes = new Map(audit.routes().map((route) => [route.method.path.split("/").pop()!, route]));
  const callAs = (peer: PeerCredentials | undefined, name: string, request: object) => {
    const route = routes.get(name) as Extract<Route, { kind: "unary" }>;
    const context: CallContext = { deadline: Date.now() + 1000, cancellation: new Cancellation(), peer };
    return route.handle(request, context) as Promise<Record<string, unknown>>;
  };
  return { audit, callAs, call: (name: string, request: object) => callAs(ROOT, name, request) };
}

async function rejection(promise: Promise<unknown>): Promise<GrpcError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(GrpcError);
  return error as GrpcError;
}

describe("audit session RPCs", () => {
  test("root registers, looks up and unregisters a session", async () => {
    const { audit, call } = service();
    expect(await call("RegisterAuditSession", { session })).toEqual({});
    expect(await call("LookupAuditSession", { sessionId: 42, loginUid: 61022 })).toEqual({ found: true, session: { ...session, registeredAtMs: 1_000_000 } });
    expect(await call("LookupAuditSession", { sessionId: 42, loginUid: 61022, eventTimeMs: 999_000 })).toEqual({ found: false });
    expect(await call("LookupAuditSession", { sessionId: 42, loginUid: 1000 })).toEqual({ found: false });
    expect(await call("UnregisterAuditSession", { sessionId: 42 })).toEqual({ found: true });
    expect(await call("LookupAuditSession", { sessionId: 42, loginUid: 61022 })).toEqual({ found: false });
    expect(audit.status()).toMatchObject({ sessions: 0, registered: 1, unregistered: 1, lookups: 4, lookupsFound: 1, pluginReported: false });
  });

  test("a non-root caller, or one without credentials (TCP), is refused and counted", async () => {
    const { audit, callAs } = service();
    for (const name of ["RegisterAuditSession", "UnregisterAuditSession", "LookupAuditSession", "ReportAuditPlugin"]) {
      const error = await rejection(callAs({ pid: 9, uid: 61022, gid: 61022 }, name, { session, sessionId: 42 }));
      expect(error.code).toBe(Status.PERMISSION_DENIED);
      expect(error.message).toContain("uid 61022");
    }
    const tcp = await rejection(callAs(undefined, "RegisterAuditSession", { session }));
    expect(tcp.code).toBe(Status.PERMISSION_DENIED);
    expect(tcp.message).toContain("Unix socket");
    expect(audit.status()).toMatchObject({ sessions: 0, registered: 0, denied: 5 });
  });

  test("registrations are validated field by field", async () => {
    const { call } = service();
    const invalid = async (change: object, field: string) => {
      const error = await rejection(call("RegisterAuditSession", { session: { ...session, ...change } }));
      expect(error.code).toBe(Status.INVALID_ARGUMENT);
      expect(error.message).toContain(field);
    };
    await invalid({ sessionId: 0 }, "session.session_id");
    await invalid({ sessionId: 0xffffffff }, "session.session_id");
    await invalid({ loginUid: 0xffffffff }, "session.login_uid");
    await invalid({ user: "" }, "session.user");
    await invalid({ port: "pts/1\n" }, "session.port");
    await invalid({ privilegeLevel: 16 }, "session.privilege_level");
    await invalid({ taskBase: "t".repeat(201) }, "session.task_base");
    expect((await rejection(call("RegisterAuditSession", {}))).message).toContain("session");
  });

  test("another login's registration of the same audit session is ALREADY_EXISTS; its unregistration finds nothing", async () => {
    const { call } = service();
    await call("RegisterAuditSession", { session });
    const error = await rejection(call("RegisterAuditSession", { session: { ...session, user: "root", taskBase: "sudo-9" } }));
    expect(error.code).toBe(Status.ALREADY_EXISTS);
    expect(await call("UnregisterAuditSession", { sessionId: 42, taskBase: "sudo-9" })).toEqual({ found: false });
    expect(await call("UnregisterAuditSession", { sessionId: 42, taskBase: "ssh-42" })).toEqual({ found: true });
  });

  test("an empty task base gets one from the session id and the registration time", async () => {
    const { call } = service(() => 1_700_000_123_456);
    await call("RegisterAuditSession", { session: { ...session, taskBase: "" } });
    const found = await call("LookupAuditSession", { sessionId: 42, loginUid: 61022 });
    expect((found.session as { taskBase: string }).taskBase).toBe("ses42.1700000123");
  });

  test("the plugin's report shows in the status with its age", async () => {
    let now = 1_000_000;
    const { audit, call } = service(() => now);
    await call("ReportAuditPlugin", { recordsRead: 10, eventsRead: 4, accounted: 3, skipped: 1, malformed: 0, dropped: 0, failed: 0, queueDepth: 0 });
    now += 5_500;
    expect(audit.status()).toMatchObject({ pluginReported: true, pluginReportAgeSeconds: 5, plugin: { recordsRead: 10, accounted: 3 } });
  });
});

describe("over the API socket", () => {
  let api: ApiServer | undefined;
  let dir: string | undefined;
  afterEach(async () => {
    await api?.close(100);
    if (dir) rmSync(dir, { recursive: true, force: true });
    api = undefined;
  });
  const start = async (endpoint: Parameters<typeof startApiServer>[0]["endpoint"]) => {
    api = await startApiServer({ engine: new FakeEngine(), endpoint, socketMode: 0o600, limits: { maxApiStreams: 10, maxGrpcMessageBytes: 1 << 20 }, log: silentLogger });
    return api.endpoint;
  };

  test("the Unix socket's SO_PEERCRED identifies the caller (root may register, others may not)", async () => {
    dir = mkdtempSync(join(tmpdir(), "audit-api-"));
    const endpoint = await start({ kind: "unix", path: join(dir, "agent.sock") });
    const call = callUnary(endpoint, "RegisterAuditSession", { session }, 5000);
    if (process.getuid!() === 0) {
      expect(await call).toEqual({});
      expect(await callUnary(endpoint, "LookupAuditSession", { sessionId: 42, loginUid: 61022 }, 5000)).toMatchObject({ found: true, session: { user: "alice" } });
      const status = await callUnary(endpoint, "Status", {}, 5000);
      expect(status.audit).toMatchObject({ sessions: 1, registered: 1 });
    } else {
      const error = await call.catch((e: unknown) => e);
      expect((error as ApiCallError).code).toBe(Status.PERMISSION_DENIED);
    }
  });

  test("loopback TCP has no peer credentials: registration is refused", async () => {
    const endpoint = await start({ kind: "tcp", host: "127.0.0.1", port: 0 });
    const error = await callUnary(endpoint, "RegisterAuditSession", { session }, 5000).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiCallError);
    expect((error as ApiCallError).code).toBe(Status.PERMISSION_DENIED);
    expect((error as ApiCallError).message).toContain("Unix socket");
  });
});
