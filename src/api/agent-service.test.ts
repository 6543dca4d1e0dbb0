import { describe, expect, test } from "bun:test";
import { Cancellation } from "../common/cancellation";
import { silentLogger } from "../common/log";
import {
  AcctFlags,
  AcctStatus,
  AuthenAction,
  AuthenMethod,
  AuthenService,
  AuthenStatus,
  AuthenType,
  AuthorStatus,
  decodeAcctRequest,
  decodeAuthenContinue,
  decodeAuthenStart,
  decodeAuthorRequest,
  encodeAcctReply,
  encodeAuthenReply,
  encodeAuthorReply,
  PacketType,
} from "../protocol";
import { UpstreamError } from "../upstream/types";
import { FakeEngine, passReply, SAMPLE_STATUS } from "../../test/support/api-fake-engine";
import { accountingRequest, agentRoutes, authorizationRequest, papStart, statusReply } from "./agent-service";
import type { CallContext, Route } from "./server";
import { GrpcError, Status } from "./status";

const pap = { user: "admin", password: new TextEncoder().encode("s3cret-pw"), port: "tty0", remoteAddress: "10.0.0.1", privilegeLevel: 1 };
const author = {
  user: "admin",
  port: "tty0",
  remoteAddress: "10.0.0.1",
  privilegeLevel: 15,
  authenticationContext: 2,
  args: [
    { name: "service", value: "shell", mandatory: true },
    { name: "cmd", value: "show", mandatory: true },
    { name: "cmd-arg", value: "version", mandatory: false },
  ],
};
const acct = {
  user: "admin",
  port: "tty0",
  remoteAddress: "10.0.0.1",
  command: "show",
  commandArguments: ["running-config", "all"],
  recordType: 0,
  taskId: "",
  startTime: 0,
  stopTime: 0,
  privilegeLevel: 0,
  service: "",
  protocol: "",
};

function expectInvalid(run: () => unknown, field: string): GrpcError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(GrpcError);
    expect((error as GrpcError).code).toBe(Status.INVALID_ARGUMENT);
    expect((error as GrpcError).message).toContain(`invalid ${field}`);
    return error as GrpcError;
  }
  throw new Error(`expected INVALID_ARGUMENT for ${field}`);
}

describe("PAP → authentication START", () => {
  test("LOGIN, PAP, service LOGIN, version 0xc1, the password as data", () => {
    const start = papStart(pap);
    expect(start.type).toBe(PacketType.Authentication);
    expect(start.version).toBe(0xc1);
    expect(decodeAuthenStart(start.body)).toEqual({
      action: AuthenAction.Login,
      privLvl: 1,
      authenType: AuthenType.Pap,
      service: AuthenService.Login,
      user: "admin",
      port: "tty0",
      remAddr: "10.0.0.1",
      data: pap.password,
    });
  });

  test("field checks name the field and never echo the password", () => {
    expectInvalid(() => papStart({ ...pap, user: "" }), "user");
    expectInvalid(() => papStart({ ...pap, user: "a\u0000b" }), "user");
    expectInvalid(() => papStart({ ...pap, port: "p".repeat(256) }), "port");
    expectInvalid(() => papStart({ ...pap, remoteAddress: "x\ny" }), "remote_address");
    expectInvalid(() => papStart({ ...pap, privilegeLevel: 16 }), "privilege_level");
    const error = expectInvalid(() => papStart({ ...pap, password: new Uint8Array(256).fill(0x41) }), "password");
    expect(error.message).not.toContain("AAAA");
    // 255 bytes of UTF-8 is fine, 256 is not (multi-byte characters count as bytes).
    expect(() => papStart({ ...pap, user: "é".repeat(127) })).not.toThrow();
    expectInvalid(() => papStart({ ...pap, user: "é".repeat(128) }), "user");
  });
});

describe("Authorization → REQUEST", () => {
  test("TACACSPLUS method, authen_type from the context, args as given", () => {
    const start = authorizationRequest(author);
    expect(start).toMatchObject({ type: PacketType.Authorization, version: 0xc0 });
    expect(decodeAuthorRequest(start.body)).toEqual({
      authenMethod: AuthenMethod.TacacsPlus,
      privLvl: 15,
      authenType: AuthenType.Pap,
      authenService: AuthenService.Login,
      user: "admin",
      port: "tty0",
      remAddr: "10.0.0.1",
      args: author.args,
    });
    expect(decodeAuthorRequest(authorizationRequest({ ...author, authenticationContext: 1 }).body).authenType).toBe(AuthenType.Ascii);
  });

  test("UNAUTHENTICATED: method NONE, authen_type NOT_SET", () => {
    const request = decodeAuthorRequest(authorizationRequest({ ...author, authenticationContext: 3 }).body);
    expect(request.authenMethod).toBe(AuthenMethod.None);
    expect(request.authenType).toBe(0 as AuthenType);
  });

  test("bad values are INVALID_ARGUMENT naming the field", () => {
    expect(expectInvalid(() => authorizationRequest({ ...author, authenticationContext: 0 }), "authentication_context").message).toContain("must be set");
    expectInvalid(() => authorizationRequest({ ...author, authenticationContext: 9 }), "authentication_context");
    expectInvalid(() => authorizationRequest({ ...author, privilegeLevel: 99 }), "privilege_level");
    const withArg = (arg: { name: string; value: string; mandatory: boolean }) => ({ ...author, args: [...author.args, arg] });
    expectInvalid(() => authorizationRequest(withArg({ name: "", value: "x", mandatory: true })), "args[3].name");
    expectInvalid(() => authorizationRequest(withArg({ name: "a=b", value: "x", mandatory: true })), "args[3].name");
    expectInvalid(() => authorizationRequest(withArg({ name: "a*b", value: "x", mandatory: true })), "args[3].name");
    expectInvalid(() => authorizationRequest(withArg({ name: "a\tb", value: "x", mandatory: true })), "args[3].name");
    expectInvalid(() => authorizationRequest(withArg({ name: "a", value: "x\u0000", mandatory: true })), "args[3].value");
    expectInvalid(() => authorizationRequest(withArg({ name: "a", value: "v".repeat(254), mandatory: true })), "args[3]");
    expect(() => authorizationRequest(withArg({ name: "a", value: "v".repeat(253), mandatory: true }))).not.toThrow();
    const many = Array.from({ length: 254 }, () => ({ name: "x", value: "1", mandatory: false }));
    expectInvalid(() => authorizationRequest({ ...author, args: [...author.args, ...many] }), "args");
    expectInvalid(() => authorizationRequest({ ...author, args: [{ name: "cmd", value: "show", mandatory: true }] }), "args");
    expectInvalid(() => authorizationRequest({ ...author, args: [{ name: "service", value: "shell", mandatory: true }] }), "args");
    expect(() => authorizationRequest({ ...author, args: [{ name: "service", value: "ppp", mandatory: true }] })).not.toThrow();
  });
});

describe("Accounting → REQUEST", () => {
  test("STOP by default, service=shell, cmd, one cmd-arg per argument", () => {
    const start = accountingRequest(acct);
    expect(start).toMatchObject({ type: PacketType.Accounting, version: 0xc0 });
    const request = decodeAcctRequest(start.body);
    expect(request.flags).toBe(AcctFlags.Stop);
    expect(request.args.map((a) => `${a.name}${a.mandatory ? "=" : "*"}${a.value}`)).toEqual([
      "service=shell",
      "cmd=show",
      "cmd-arg=running-config",
      "cmd-arg=all",
    ]);
  });

  test("record types map to RFC 8907 §7.2 flags, never START|STOP", () => {
    const flagsOf = (recordType: number) => decodeAcctRequest(accountingRequest({ ...acct, recordType }).body).flags;
    expect([0, 1, 2, 3, 4].map(flagsOf)).toEqual([0x04, 0x02, 0x04, 0x08, 0x0a]);
    expectInvalid(() => accountingRequest({ ...acct, recordType: 5 }), "record_type");
  });

  test("task_id and timestamps when given; uint64 as Long or number", () => {
    const long = { toNumber: () => 1_700_000_100 };
    const request = decodeAcctRequest(accountingRequest({ ...acct, taskId: "42", startTime: 1_700_000_000, stopTime: long, privilegeLevel: 7 }).body);
    expect(request.privLvl).toBe(7);
    expect(request.args.slice(4).map((a) => `${a.name}=${a.value}`)).toEqual(["task_id=42", "start_time=1700000000", "stop_time=1700000100"]);
  });

  test("elapsed_time and status (exit status) from command_end, zero included; none without it, no status when unknown", () => {
    const stop = (extra: object) => decodeAcctRequest(accountingRequest({ ...acct, ...extra }).body).args.slice(4).map((a) => `${a.name}=${a.value}`);
    expect(stop({ commandEnd: { elapsedTime: 0, exitStatus: 0 } })).toEqual(["elapsed_time=0", "status=0"]);
    expect(stop({ commandEnd: { elapsedTime: { toNumber: () => 3 }, exitStatus: 130 } })).toEqual(["elapsed_time=3", "status=130"]);
    expect(stop({ commandEnd: { elapsedTime: 1, exitStatus: -1 } })).toEqual(["elapsed_time=1"]);
    expect(stop({ commandEnd: null })).toEqual([]);
  });

  test("a session record (service set, no command): service and protocol, no cmd", () => {
    const session = { ...acct, command: "", commandArguments: [], service: "shell", protocol: "ssh", recordType: 1, taskId: "t1" };
    const args = decodeAcctRequest(accountingRequest(session).body).args.map((a) => `${a.name}=${a.value}`);
    expect(args).toEqual(["service=shell", "protocol=ssh", "task_id=t1"]);
    // Without a service, an empty command still sends "cmd=" as the reference agent does.
    expect(decodeAcctRequest(accountingRequest({ ...acct, command: "" }).body).args[1]).toMatchObject({ name: "cmd", value: "" });
    expectInvalid(() => accountingRequest({ ...session, protocol: "s\u0000h" }), "protocol.value");
    expectInvalid(() => accountingRequest({ ...session, service: "x\u0000" }), "service.value");
  });

  test("bad values name the field", () => {
    expectInvalid(() => accountingRequest({ ...acct, command: "x".repeat(252) }), "command");
    expectInvalid(() => accountingRequest({ ...acct, commandArguments: ["ok", "bad\u0000"] }), "command_arguments[1].value");
    expectInvalid(() => accountingRequest({ ...acct, taskId: "t".repeat(250) }), "task_id");
    expectInvalid(() => accountingRequest({ ...acct, user: "u\u007f" }), "user");
    expectInvalid(() => accountingRequest({ ...acct, commandArguments: Array.from({ length: 254 }, () => "a") }), "command_arguments");
  });
});

describe("handlers", () => {
  const context = (): CallContext => ({ deadline: Date.now() + 1000, cancellation: new Cancellation(), peer: undefined });
  const routes = (engine: FakeEngine) => new Map<string, Route>(agentRoutes(engine, silentLogger).map((r) => [r.method.path.split("/").pop()!, r]));
  const call = (engine: FakeEngine, name: string, request: object) => {
    const route = routes(engine).get(name)!;
    if (route.kind !== "unary") throw new Error("unary expected");
    // A fresh request each call, as decoded from the wire (handlers may wipe secrets in it).
    return route.handle(structuredClone(request), context()) as Promise<Record<string, any>>;
  };

  test("requests go to the engine with the deadline, the cancellation and resendable (false for accounting only)", async () => {
    const engine = new FakeEngine();
    await call(engine, "AuthenticatePap", pap);
    await call(engine, "Authorization", author);
    await call(engine, "Accounting", acct);
    expect(engine.requests.map((r) => [r.type, r.resendable])).toEqual([
      [1, true],
      [2, true],
      [3, false],
    ]);
    for (const request of engine.requests) {
      expect(request.deadline).toBeGreaterThan(Date.now());
      expect(request.cancellation).toBeInstanceOf(Cancellation);
    }
    expect(engine.ended).toBe(3);
  });

  test("PAP: the password is wiped from the decoded request at once and from the START once answered", async () => {
    const engine = new FakeEngine();
    const route = routes(engine).get("AuthenticatePap")!;
    if (route.kind !== "unary") throw new Error("unary expected");
    const request = structuredClone(pap);
    let passwordDuringExchange: Uint8Array | undefined;
    engine.answer = (start) => {
      passwordDuringExchange = decodeAuthenStart(start.body).data.slice();
      return passReply(start);
    };
    await route.handle(request, context());
    expect(passwordDuringExchange).toEqual(pap.password);
    expect(request.password.every((byte) => byte === 0)).toBe(true);
    expect(engine.handedOver[0]!.every((byte) => byte === 0)).toBe(true);
  });

  test("replies carry the server, status, message and data", async () => {
    const engine = new FakeEngine();
    expect(await call(engine, "AuthenticatePap", pap)).toEqual({
      response: { server: "fake-server", status: 1, serverMessage: "welcome", data: new Uint8Array([1, 2]) },
    });
    engine.answer = () => encodeAuthorReply({ status: AuthorStatus.Fail, args: [], serverMsg: "denied", data: "d" });
    expect(await call(engine, "Authorization", author)).toEqual({ response: { server: "fake-server", status: 16, serverMessage: "denied", args: [], data: "d" } });
    engine.answer = () => encodeAcctReply({ status: AcctStatus.Follow, serverMsg: "", data: "x" });
    expect(await call(engine, "Accounting", acct)).toEqual({ response: { server: "fake-server", status: 33, serverMessage: "", data: "x" } });
  });

  test("PAP: FOLLOW and RESTART are FAIL; a request for more input is a service error", async () => {
    const engine = new FakeEngine();
    const statusFor = async (status: AuthenStatus) => {
      engine.answer = () => encodeAuthenReply({ status, flags: 0, serverMsg: "", data: new Uint8Array() });
      return call(engine, "AuthenticatePap", pap);
    };
    expect((await statusFor(AuthenStatus.Follow)).response.status).toBe(2);
    expect((await statusFor(AuthenStatus.Restart)).response.status).toBe(2);
    expect((await statusFor(AuthenStatus.Error)).response.status).toBe(7);
    const more = await statusFor(AuthenStatus.GetPass);
    expect(more.error).toEqual({ message: expect.stringContaining("GetPass"), server: "fake-server", retriable: false });
  });

  test("ASCII login: START without the password, GETUSER/GETPASS answered by CONTINUE, the password wiped", async () => {
    const engine = new FakeEngine();
    const reply = (status: AuthenStatus) => encodeAuthenReply({ status, flags: 0, serverMsg: "", data: new Uint8Array() });
    engine.answer = () => reply(AuthenStatus.GetUser);
    engine.answerContinue = (body) => (decodeAuthenContinue(body).userMsg.length === pap.user.length ? reply(AuthenStatus.GetPass) : reply(AuthenStatus.Pass));
    const route = routes(engine).get("AuthenticateAsciiLogin")!;
    if (route.kind !== "unary") throw new Error("unary expected");
    const request = structuredClone(pap);
    expect(await route.handle(request, context())).toMatchObject({ response: { server: "fake-server", status: 1 } });
    const start = decodeAuthenStart(engine.requests[0]!.body);
    expect(start).toMatchObject({ authenType: AuthenType.Ascii, user: pap.user, data: new Uint8Array() });
    expect(engine.requests[0]!.version).toBe(0xc0);
    expect(engine.continued.map((body) => Buffer.from(decodeAuthenContinue(body).userMsg).toString())).toEqual([pap.user, Buffer.from(pap.password).toString()]);
    expect(request.password.every((byte) => byte === 0)).toBe(true);
    expect(engine.ended).toBe(1);
    // A server that keeps asking is answered a bounded number of times.
    engine.answerContinue = () => reply(AuthenStatus.GetPass);
    const more = await call(engine, "AuthenticateAsciiLogin", pap);
    expect(more.error).toEqual({ message: expect.stringContaining("during ASCII login"), server: "fake-server", retriable: false });
    expect(engine.continued.length).toBe(2 + 4);
  });

  test("UpstreamError → result.error with server and retriable", async () => {
    const engine = new FakeEngine();
    engine.answer = () => {
      throw new UpstreamError("no server answered", "backup", true, "unavailable");
    };
    expect(await call(engine, "Accounting", acct)).toEqual({ error: { message: "no server answered", server: "backup", retriable: true } });
    expect(engine.ended).toBe(0);
  });

  test("a malformed reply body → result.error naming the server; the session is ended", async () => {
    const engine = new FakeEngine();
    engine.answer = () => new Uint8Array([1, 0, 0]);
    const reply = await call(engine, "Authorization", author);
    expect(reply.error.server).toBe("fake-server");
    expect(reply.error.message).toContain("malformed reply");
    expect(engine.ended).toBe(1);
  });

  test("other errors propagate (the server turns them into INTERNAL)", async () => {
    const engine = new FakeEngine();
    engine.answer = () => {
      throw new TypeError("bug");
    };
    await expect(call(engine, "Accounting", acct)).rejects.toThrow("bug");
  });

  test("Status maps the engine status", async () => {
    const reply = statusReply(SAMPLE_STATUS) as any;
    expect(reply.state).toBe(2);
    expect(reply.activeServer).toBe(1);
    expect(reply.servers[1]).toMatchObject({ name: "backup", connected: true, singleConnect: 1, sessionsInFlight: 2 });
    expect(reply.servers[0].counters.connectionFailures).toBe(3);
    expect(await call(new FakeEngine(), "Status", {})).toEqual({ ...reply, audit: expect.objectContaining({ sessions: 0, pluginReported: false }) });
  });
});
