/** Shared pieces of the upstream engine's loopback tests: servers, requests, a capturing logger. */
import type { Logger } from "../../src/common/log";
import { Secret } from "../../src/common/secret";
import {
  AcctFlags,
  AuthenMethod,
  AuthenService,
  AuthenType,
  decodeAcctReply,
  decodeAuthorReply,
  encodeAcctRequest,
  encodeAuthorRequest,
  PacketType,
  VERSION_DEFAULT,
  type AcctStatus,
  type AuthorStatus,
} from "../../src/protocol";
import { createEngine, type EngineOptions, type StartRequest, type UpstreamEngine, type UpstreamServer, type UpstreamSession } from "../../src/upstream";
import { startTacacsServer, type TacacsServerOptions, type TestServer } from "../support/tacacs-server";
import { until as waitUntil } from "../support/wait";
export { capturingLogger, type CapturingLogger } from "../support/logging";
import { capturingLogger } from "../support/logging";

export const KEY = "labkey123";

/** Servers started by a test, stopped by `stopAll` in afterEach. */
const running: TestServer[] = [];
const engines: UpstreamEngine[] = [];

export async function server(options: TacacsServerOptions = {}): Promise<TestServer> {
  const started = await startTacacsServer({ key: KEY, ...options });
  running.push(started);
  return started;
}

export async function stopAll(): Promise<void> {
  await Promise.all(engines.splice(0).map((engine) => engine.close()));
  await Promise.all(running.splice(0).map((s) => s.stop()));
}

export function upstream(ts: TestServer, name: string, overrides: Partial<UpstreamServer> = {}): UpstreamServer {
  return {
    name,
    host: ts.host,
    port: ts.port,
    sharedSecret: Secret.fromText(KEY),
    security: { kind: "tcp" },
    singleConnection: true,
    timeoutMs: 1000,
    ...overrides,
  };
}

export function engine(servers: UpstreamServer[], options: Partial<EngineOptions> = {}, log: Logger = capturingLogger()): UpstreamEngine {
  const created = createEngine(
    { servers, connectTimeoutMs: 1000, probeIntervalMs: 60_000, maxSessionsInFlight: 1000, ...options },
    { logger: log },
  );
  engines.push(created);
  return created;
}

/** alice runs `show <what>`: "version" is permitted (PASS_ADD), anything else is denied (FAIL). */
export function authorization(what = "version", deadlineMs = 3000): StartRequest {
  const body = encodeAuthorRequest({
    authenMethod: AuthenMethod.TacacsPlus,
    privLvl: 1,
    authenType: AuthenType.Ascii,
    authenService: AuthenService.Login,
    user: "alice",
    port: "tty1",
    remAddr: "192.0.2.1",
    args: [
      { name: "service", value: "shell", mandatory: true },
      { name: "cmd", value: "show", mandatory: true },
      { name: "cmd-arg", value: what, mandatory: true },
    ],
  });
  return { type: PacketType.Authorization, version: VERSION_DEFAULT, body, deadline: Date.now() + deadlineMs, resendable: true };
}

export function accounting(taskId: string, deadlineMs = 3000): StartRequest {
  const body = encodeAcctRequest({
    flags: AcctFlags.Start,
    authenMethod: AuthenMethod.TacacsPlus,
    privLvl: 1,
    authenType: AuthenType.Ascii,
    authenService: AuthenService.Login,
    user: "alice",
    port: "tty1",
    remAddr: "192.0.2.1",
    args: [{ name: "task_id", value: taskId, mandatory: true }],
  });
  return { type: PacketType.Accounting, version: VERSION_DEFAULT, body, deadline: Date.now() + deadlineMs, resendable: false };
}

export function authorStatus(session: UpstreamSession): AuthorStatus {
  return decodeAuthorReply(session.reply.body).status;
}

export function acctStatus(session: UpstreamSession): AcctStatus {
  return decodeAcctReply(session.reply.body).status;
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls until `check` holds, failing after `timeoutMs` (2 s unless given). */
export const until = (check: () => boolean, timeoutMs = 2000): Promise<void> => waitUntil(check, timeoutMs);
