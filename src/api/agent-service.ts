/**
 * The tacacsrs.agent.v1.TacacsAgent handlers: each RPC becomes one TACACS+ exchange through the
 * upstream engine. Upstream failures are replies (`result.error`), not gRPC errors, so clients see
 * the server name and the retriable flag; bad requests are INVALID_ARGUMENT naming the field.
 */
import type { Logger } from "../common/log";
import { entryPointStatus, newEntryPointMetrics, requestTypeOf, secondsSince, statusOutcome, type EntryPointMetrics, type Outcome, type RequestCell } from "../common/request-metrics";
import {
  AcctFlags,
  AuthenAction,
  AuthenMethod,
  AuthenService,
  AuthenStatus,
  AuthenType,
  CodecError,
  decodeAcctReply,
  decodeAuthenReply,
  decodeAuthorReply,
  encodeAcctRequest,
  encodeAuthenContinue,
  encodeAuthenStart,
  encodeAuthorRequest,
  PacketType,
  VERSION_DEFAULT,
  VERSION_ONE,
  type Arg,
  type AuthenReply,
} from "../protocol";
import { UpstreamError, type EngineStatus, type StartRequest, type UpstreamEngine, type UpstreamSession } from "../upstream/types";
import { systemClock } from "../upstream/clock";
import { AuditService } from "./audit-service";
import { QUEUED_MESSAGE, type AccountingDelivery, type AccountingStats, type LiveOutcome } from "../accounting";
import { AGENT_SERVICE, methodsOf, toNumber, type MethodDescriptor } from "./proto";
import type { CallContext, Route } from "./server";
import { GrpcError, Status } from "./status";
import { checkArg, checkArgCount, checkBytes, checkEnum, checkName, checkPrivLvl, invalid } from "./validation";

// ---- decoded request shapes (protobufjs messages, camelCase fields, proto3 defaults) ----

interface PapAuthenticationRequest {
  user: string;
  password: Uint8Array;
  port: string;
  remoteAddress: string;
  privilegeLevel: number;
}

interface AuthorizationArgMessage {
  name: string;
  mandatory: boolean;
  value: string;
}

interface AuthorizationRequest {
  user: string;
  port: string;
  remoteAddress: string;
  privilegeLevel: number;
  args: AuthorizationArgMessage[];
  authenticationContext: number;
}

type Uint64 = number | { toNumber(): number };

interface AccountingRequest {
  user: string;
  port: string;
  remoteAddress: string;
  command: string;
  commandArguments: string[];
  recordType: number;
  taskId: string;
  startTime: Uint64;
  stopTime: Uint64;
  privilegeLevel: number;
  /** How a supervised command ended (STOP only); null when not sent. */
  commandEnd?: { elapsedTime: Uint64; exitStatus: number } | null;
  service: string;
  protocol: string;
}

// ---- enum values of the proto (numbers on the wire) ----

const AuthenticationStatus = { PASS: 1, FAIL: 2, ERROR: 7 } as const;

const AuthenticationContext = { TACACS_ASCII: 1, TACACS_PAP: 2, UNAUTHENTICATED: 3 } as const;
const AUTHENTICATION_CONTEXTS = Object.values(AuthenticationContext);

/** RFC 8907 §7.2 flag combinations by AccountingRecordType; UNSPECIFIED keeps the reference's STOP. */
const ACCT_FLAGS_BY_RECORD_TYPE: Record<number, number> = {
  0: AcctFlags.Stop,
  1: AcctFlags.Start,
  2: AcctFlags.Stop,
  3: AcctFlags.Watchdog,
  4: AcctFlags.Watchdog | AcctFlags.Start,
};

const ACCOUNTING_SUCCESS = 1;

const FAILOVER_STATE = { PreferredActive: 1, FailedOver: 2, NoResponsiveServer: 3 } as const;
const SINGLE_CONNECT = { unknown: 0, supported: 1, unsupported: 2 } as const;

type ServiceErrorReply = { error: { message: string; server: string; retriable: boolean } };

function serviceError(message: string, server: string, retriable: boolean): ServiceErrorReply {
  return { error: { message, server, retriable } };
}

// ---- request → TACACS+ body ----

/** What a request becomes: the first packet of the session, without deadline and cancellation. */
export type StartBody = Pick<StartRequest, "type" | "version" | "body">;

function checkCommonNames(request: { user: string; port: string; remoteAddress: string }, userRequired: boolean): void {
  checkName("user", request.user, userRequired);
  checkName("port", request.port);
  checkName("remote_address", request.remoteAddress);
}

const isService = (arg: Arg) => arg.name === "service";
const isCmd = (arg: Arg) => arg.name === "cmd";

/** RFC 8907 §5.4.2.2: PAP login START, version 0xc1 (§5.4.1), the password as data. */
export function papStart(request: PapAuthenticationRequest): StartBody {
  checkCommonNames(request, true);
  const body = encodeAuthenStart({
    action: AuthenAction.Login,
    privLvl: checkPrivLvl("privilege_level", request.privilegeLevel),
    authenType: AuthenType.Pap,
    service: AuthenService.Login,
    user: request.user,
    port: request.port,
    remAddr: request.remoteAddress,
    data: checkBytes("password", request.password),
  });
  return { type: PacketType.Authentication, version: VERSION_ONE, body };
}

/** RFC 8907 §5.4.2.1: ASCII login START with the user and no data; the password follows in a CONTINUE. */
export function asciiLoginStart(request: PapAuthenticationRequest): StartBody {
  checkCommonNames(request, true);
  checkBytes("password", request.password);
  const body = encodeAuthenStart({
    action: AuthenAction.Login,
    privLvl: checkPrivLvl("privilege_level", request.privilegeLevel),
    authenType: AuthenType.Ascii,
    service: AuthenService.Login,
    user: request.user,
    port: request.port,
    remAddr: request.remoteAddress,
    data: new Uint8Array(0),
  });
  return { type: PacketType.Authentication, version: VERSION_DEFAULT, body };
}

/** RFC 8907 §6.1 REQUEST; the authentication context picks authen_method and authen_type. */
export function authorizationRequest(request: AuthorizationRequest): StartBody {
  // As in the reference agent, UNSPECIFIED is refused: the caller must say how the user was authenticated.
  if (request.authenticationContext === 0) throw invalid("authentication_context", "must be set (TACACS_ASCII, TACACS_PAP or UNAUTHENTICATED)");
  const context = checkEnum("authentication_context", request.authenticationContext, AUTHENTICATION_CONTEXTS);
  const args: Arg[] = [];
  for (let i = 0; i < request.args.length; i++) {
    const arg = request.args[i]!;
    args.push(checkArg("args", { name: arg.name, value: arg.value, mandatory: arg.mandatory }, i));
  }
  checkArgCount("args", args.length);
  const service = args.find(isService);
  // RFC 8907 §8.2: "service" MUST always be included, and "cmd" MUST be when service=shell.
  if (service === undefined) throw invalid("args", 'a "service" argument is required (e.g. service=shell)');
  if (service.value === "shell" && !args.some(isCmd)) {
    throw invalid("args", 'service=shell requires a "cmd" argument');
  }
  const privLvl = checkPrivLvl("privilege_level", request.privilegeLevel);
  checkCommonNames(request, false);
  const body = encodeAuthorRequest({
    authenMethod: context === AuthenticationContext.UNAUTHENTICATED ? AuthenMethod.None : AuthenMethod.TacacsPlus,
    privLvl,
    // TAC_PLUS_AUTHEN_TYPE_NOT_SET (0) when the user was not authenticated (§6.1).
    authenType: context === AuthenticationContext.TACACS_ASCII ? AuthenType.Ascii : context === AuthenticationContext.TACACS_PAP ? AuthenType.Pap : (0 as AuthenType),
    authenService: AuthenService.Login,
    user: request.user,
    port: request.port,
    remAddr: request.remoteAddress,
    args,
  });
  return { type: PacketType.Authorization, version: VERSION_DEFAULT, body };
}

/** RFC 8907 §7.1 REQUEST with the shell command as arguments (§8.2, §8.3). */
export function accountingRequest(request: AccountingRequest): StartBody {
  const flags = ACCT_FLAGS_BY_RECORD_TYPE[request.recordType];
  if (flags === undefined) throw invalid("record_type", `value ${request.recordType} is not supported`);
  // Each argument is checked with the proto field it comes from, for error messages.
  const sessionRecord = request.service !== "";
  const args: Arg[] = [sessionRecord ? checkArg("service", { name: "service", value: request.service, mandatory: true }) : { name: "service", value: "shell", mandatory: true }];
  if (request.protocol !== "") args.push(checkArg("protocol", { name: "protocol", value: request.protocol, mandatory: true }));
  if (!sessionRecord || request.command !== "") args.push(checkArg("command", { name: "cmd", value: request.command, mandatory: true }));
  for (let i = 0; i < request.commandArguments.length; i++) {
    args.push(checkArg("command_arguments", { name: "cmd-arg", value: request.commandArguments[i]!, mandatory: true }, i));
  }
  if (request.taskId !== "") args.push(checkArg("task_id", { name: "task_id", value: request.taskId, mandatory: true }));
  const startTime = toNumber(request.startTime);
  const stopTime = toNumber(request.stopTime);
  if (startTime !== 0) args.push(checkArg("start_time", { name: "start_time", value: String(startTime), mandatory: true }));
  if (stopTime !== 0) args.push(checkArg("stop_time", { name: "stop_time", value: String(stopTime), mandatory: true }));
  const end = request.commandEnd;
  if (end != null) {
    args.push({ name: "elapsed_time", value: String(toNumber(end.elapsedTime)), mandatory: true });
    if (end.exitStatus >= 0) args.push({ name: "status", value: String(end.exitStatus), mandatory: true });
  }
  checkArgCount("command_arguments", args.length);
  const privLvl = checkPrivLvl("privilege_level", request.privilegeLevel);
  checkCommonNames(request, false);
  const body = encodeAcctRequest({
    flags,
    authenMethod: AuthenMethod.TacacsPlus,
    privLvl,
    authenType: AuthenType.Ascii,
    authenService: AuthenService.Login,
    user: request.user,
    port: request.port,
    remAddr: request.remoteAddress,
    args,
  });
  return { type: PacketType.Accounting, version: VERSION_DEFAULT, body };
}

// ---- TACACS+ reply → proto reply ----

function papReply(server: string, body: Uint8Array): object {
  return authenticationReply(server, decodeAuthenReply(body), "PAP authentication");
}

/** The final REPLY of a PAP or ASCII login session. */
function authenticationReply(server: string, reply: AuthenReply, what: string): object {
  const response = (status: number) => ({ response: { server, status, serverMessage: reply.serverMsg, data: reply.data } });
  switch (reply.status) {
    case AuthenStatus.Pass:
      return response(AuthenticationStatus.PASS);
    case AuthenStatus.Error:
      return response(AuthenticationStatus.ERROR);
    // RFC 8907 §5.4.3: FOLLOW is treated as FAIL; RESTART asks for another authen_type, which PAP cannot offer.
    case AuthenStatus.Fail:
    case AuthenStatus.Follow:
    case AuthenStatus.Restart:
      return response(AuthenticationStatus.FAIL);
    default:
      return serviceError(`${server} asked for more input (${AuthenStatus[reply.status]}) during ${what}`, server, false);
  }
}

function authorizationReply(server: string, body: Uint8Array): object {
  const reply = decodeAuthorReply(body);
  return { response: { server, status: reply.status, serverMessage: reply.serverMsg, args: reply.args, data: reply.data } };
}

function accountingReply(server: string, body: Uint8Array): object {
  const reply = decodeAcctReply(body);
  return { response: { server, status: reply.status, serverMessage: reply.serverMsg, data: reply.data } };
}

/**
 * The accounting hook of `exchange` with the spool or journal on (src/accounting): the server's
 * reply as usual, or `queued` when no server took the record and the spool did, or a retriable
 * error when the spool refused it.
 */
function settleAccounting(accounting: AccountingDelivery, start: StartBody): Settle {
  return async (outcome, reply) => {
    const verdict = await accounting.settle(start.version, start.body, outcome);
    return verdict.kind === "pass" ? reply : verdictReply(verdict);
  };
}

function verdictReply(verdict: { kind: "queued" } | { kind: "refused"; message: string }): object {
  if (verdict.kind === "queued") return { response: { server: "", status: ACCOUNTING_SUCCESS, serverMessage: QUEUED_MESSAGE, data: "", queued: true } };
  return serviceError(verdict.message, "", true);
}

/** --accounting-fan-out: the record goes to every collector; the preferred one's reply answers. */
async function fanOutExchange(accounting: AccountingDelivery, start: StartBody, context: CallContext): Promise<object> {
  const result = await accounting.fanOut(start.version, start.body, context.deadline);
  switch (result.kind) {
    case "answered":
      try {
        return accountingReply(result.server, result.replyBody);
      } catch (error) {
        if (error instanceof CodecError) return serviceError(`${result.server} sent a malformed reply: ${error.message}`, result.server, false);
        throw error;
      }
    case "failed":
      return serviceError(result.error.message, result.error.server, result.error.retriable);
    default:
      return verdictReply(result);
  }
}

/** The Status reply's accounting_spool (absent without a spool). */
function spoolStatus(stats: AccountingStats | undefined): object {
  return stats === undefined ? {} : { accountingSpool: { ...stats } };
}

export function statusReply(status: EngineStatus, accounting?: AccountingStats): object {
  return {
    ...spoolStatus(accounting),
    state: FAILOVER_STATE[status.state],
    activeServer: status.activeServer,
    servers: status.servers.map((server) => ({
      name: server.name,
      address: server.address,
      connected: server.connected,
      singleConnect: SINGLE_CONNECT[server.singleConnect],
      sessionsInFlight: server.sessionsInFlight,
      counters: { ...server.counters },
    })),
  };
}

// ---- the exchange ----

/** Turns the engine's outcome and the reply it makes into the reply sent (accounting delivery). */
type Settle = (outcome: LiveOutcome, reply: object) => Promise<object>;

const UPSTREAM_OUTCOME: Record<UpstreamError["kind"], Outcome> = {
  unavailable: "unavailable",
  exhausted: "unavailable",
  cancelled: "unavailable",
  timeout: "timeout",
  protocol: "error",
};

function replyOutcome(type: number, reply: object): Outcome {
  const status = (reply as { response?: { status: number } }).response?.status;
  const requestType = requestTypeOf(type);
  return status === undefined || requestType === undefined ? "error" : statusOutcome(requestType, status);
}

/** Runs one exchange; upstream and reply-decoding failures become `result.error`. Counts it in `cell`. */
async function exchange(
  engine: UpstreamEngine,
  start: StartBody,
  resendable: boolean,
  context: CallContext,
  toReply: (server: string, body: Uint8Array) => object,
  cell: RequestCell,
  started: number,
  settle?: Settle,
): Promise<object> {
  let session: UpstreamSession;
  try {
    session = await engine.start({ type: start.type, version: start.version, body: start.body, deadline: context.deadline, cancellation: context.cancellation, resendable });
  } catch (error) {
    if (!(error instanceof UpstreamError)) {
      cell.end("error", secondsSince(started));
      throw error;
    }
    const reply = serviceError(error.message, error.server, error.retriable);
    let settled: object = reply;
    try {
      if (settle) settled = await settle({ kind: "failed", retriable: error.retriable && error.kind !== "cancelled" }, reply);
    } finally {
      // A record the spool took is answered (pass); one it could not take keeps the upstream's outcome.
      cell.end("response" in settled ? replyOutcome(start.type, settled) : UPSTREAM_OUTCOME[error.kind], secondsSince(started));
    }
    return settled;
  }
  let reply: object;
  try {
    const answer = toReply(session.server, session.reply.body);
    reply = settle ? await settle({ kind: "answered", server: session.server, replyBody: session.reply.body }, answer) : answer;
  } catch (error) {
    cell.end("error", secondsSince(started));
    if (error instanceof CodecError) return serviceError(`${session.server} sent a malformed reply: ${error.message}`, session.server, false);
    throw error;
  } finally {
    session.end();
  }
  cell.end(replyOutcome(start.type, reply), secondsSince(started));
  return reply;
}

/** GETUSER/GETPASS prompts answered in one ASCII login at most; a server that keeps asking gets a service error. */
const MAX_ASCII_PROMPTS = 4;
const NO_DATA = new Uint8Array(0);

/**
 * ASCII login (RFC 8907 §5.4.2.1): START with the user, then CONTINUE with the user for GETUSER
 * and the password for GETPASS (§5.4.4), on the server that answered the START; the final REPLY
 * maps like PAP's. The password is wiped when the session is over, and each CONTINUE once sent.
 */
async function asciiLogin(
  engine: UpstreamEngine,
  request: PapAuthenticationRequest,
  context: CallContext,
  serverAnswered: () => void,
  cell: RequestCell,
  started: number,
): Promise<object> {
  const start = build(asciiLoginStart, request, cell, started);
  let outcome: Outcome = "error";
  const user = new TextEncoder().encode(request.user);
  let session: UpstreamSession | undefined;
  try {
    session = await engine.start({ type: start.type, version: start.version, body: start.body, deadline: context.deadline, cancellation: context.cancellation, resendable: true });
    serverAnswered();
    let reply = decodeAuthenReply(session.reply.body);
    for (let prompts = 0; prompts < MAX_ASCII_PROMPTS && (reply.status === AuthenStatus.GetUser || reply.status === AuthenStatus.GetPass); prompts++) {
      const body = encodeAuthenContinue({ flags: 0, userMsg: reply.status === AuthenStatus.GetPass ? request.password : user, data: NO_DATA });
      try {
        reply = decodeAuthenReply((await session.continue(body, context.deadline, context.cancellation)).body);
      } finally {
        body.fill(0);
      }
    }
    const answer = authenticationReply(session.server, reply, "ASCII login");
    outcome = replyOutcome(start.type, answer);
    return answer;
  } catch (error) {
    if (error instanceof UpstreamError) {
      outcome = UPSTREAM_OUTCOME[error.kind];
      return serviceError(error.message, error.server, error.retriable);
    }
    if (error instanceof CodecError && session !== undefined) return serviceError(`${session.server} sent a malformed reply: ${error.message}`, session.server, false);
    throw error;
  } finally {
    cell.end(outcome, secondsSince(started));
    session?.end();
    request.password.fill(0);
  }
}

/**
 * Builds the request (codec range errors, a safety net behind validation, are INVALID_ARGUMENT)
 * and counts it in flight in `cell`; a refused request is counted as invalid.
 */
function build<T>(buildStart: (request: T) => StartBody, request: T, cell: RequestCell, started: number): StartBody {
  cell.inFlight += 1;
  try {
    return buildStart(request);
  } catch (error) {
    cell.end("invalid", secondsSince(started));
    if (error instanceof CodecError) throw new GrpcError(Status.INVALID_ARGUMENT, `invalid request: ${error.message}`);
    throw error;
  }
}

/** The routes of the TacacsAgent service. */
export function agentRoutes(
  engine: UpstreamEngine,
  log: Logger,
  audit: AuditService = new AuditService(systemClock, log),
  accounting?: AccountingDelivery,
  metrics: EntryPointMetrics = newEntryPointMetrics(),
  /** The proxy's counters, shown by Status when the proxy is hosted. */
  proxy?: EntryPointMetrics,
): Route[] {
  const methods = new Map(methodsOf(AGENT_SERVICE).map((method) => [method.path.slice(AGENT_SERVICE.length + 2), method]));
  const method = (name: string): MethodDescriptor => methods.get(name)!;
  type ReplyMaker = (server: string, body: Uint8Array) => object;
  // Any server's answer tells a waiting accounting backlog to try now.
  const answered = (toReply: ReplyMaker): ReplyMaker =>
    accounting
      ? (server, body) => {
          accounting.serverAnswered();
          return toReply(server, body);
        }
      : toReply;
  return [
    {
      method: method("AuthenticatePap"),
      kind: "unary",
      refused: () => void (metrics.authentication.resource_exhausted += 1),
      handle: (request, context) => {
        const started = performance.now();
        const pap = request as PapAuthenticationRequest;
        const start = build(papStart, pap, metrics.authentication, started);
        // The START holds its own copy of the password: wipe the decoded request's now, and the
        // START once answered (until then the engine may send it to the next server).
        pap.password.fill(0);
        // Never the password: only the user name goes to the log.
        log.debug(`api: PAP authentication for user ${JSON.stringify(pap.user)}`);
        const reply = answered((server, body) => {
          start.body.fill(0);
          return papReply(server, body);
        });
        return exchange(engine, start, true, context, reply, metrics.authentication, started);
      },
    },
    {
      method: method("AuthenticateAsciiLogin"),
      kind: "unary",
      refused: () => void (metrics.authentication.resource_exhausted += 1),
      handle: (request, context) => {
        const started = performance.now();
        log.debug(`api: ASCII login for user ${JSON.stringify((request as PapAuthenticationRequest).user)}`);
        return asciiLogin(engine, request as PapAuthenticationRequest, context, () => accounting?.serverAnswered(), metrics.authentication, started);
      },
    },
    {
      method: method("Authorization"),
      kind: "unary",
      refused: () => void (metrics.authorization.resource_exhausted += 1),
      handle: (request, context) => {
        const started = performance.now();
        const start = build(authorizationRequest, request as AuthorizationRequest, metrics.authorization, started);
        return exchange(engine, start, true, context, answered(authorizationReply), metrics.authorization, started);
      },
    },
    {
      method: method("Accounting"),
      kind: "unary",
      refused: () => void (metrics.accounting.resource_exhausted += 1),
      // Accounting is never re-sent behind the caller's back (a duplicate record is worse than a retriable error).
      handle: (request, context) => {
        const started = performance.now();
        const start = build(accountingRequest, request as AccountingRequest, metrics.accounting, started);
        if (accounting?.fanOutEnabled) return fanOutExchange(accounting, start, context);
        return exchange(engine, start, false, context, accountingReply, metrics.accounting, started, accounting && settleAccounting(accounting, start));
      },
    },
    {
      method: method("Status"),
      kind: "unary",
      handle: async () => ({ ...statusReply(engine.status(), accounting?.stats()), audit: audit.status(), ...(proxy ? { proxy: entryPointStatus(proxy) } : {}) }),
    },
    ...audit.routes(),
  ];
}
