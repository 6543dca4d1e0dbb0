/**
 * The test server's policy: who may log in, run which commands, and what accounting records it keeps.
 * Pure: a decoded request (and the session's state) in, a plaintext reply body out. The socket layer
 * (tacacs-server.ts) does framing, obfuscation, single-connect and fault injection around it.
 */
import { createHash, timingSafeEqual } from "node:crypto";
import {
  AcctStatus,
  AuthenAction,
  AuthenContinueFlags,
  AuthenReplyFlags,
  AuthenStatus,
  AuthenType,
  AuthorStatus,
  CodecError,
  PacketType,
  decodeAcctRequest,
  decodeAuthenContinue,
  decodeAuthenStart,
  decodeAuthorRequest,
  decodeChallengeResponse,
  encodeAcctReply,
  encodeAuthenReply,
  encodeAuthorReply,
  errorReplyBody,
  minorVersionFor,
  parseArg,
  type AcctRequest,
  type Arg,
  type AuthorRequest,
} from "../../src/protocol";

export interface PolicyUser {
  /** Login password, for PAP and ASCII login. */
  password: string;
  /** CHAP secret; CHAP login fails for a user without one. */
  chapSecret?: string;
  /** Highest privilege level the user may request (authentication and authorization). */
  privLvl: number;
  /**
   * Permitted shell commands as "cmd arg arg", e.g. "show version"; "cmd *" permits cmd with any
   * arguments; "*" permits every command.
   */
  commands: readonly string[];
  /**
   * Services the user may start (authorization without a `cmd`), with the arguments returned in
   * PASS_ADD, e.g. `{ ppp: ["addr=10.1.2.3"], shell: [] }`. A service not listed is denied.
   */
  services: Readonly<Record<string, readonly string[]>>;
}

export interface Policy {
  users: Readonly<Record<string, PolicyUser>>;
}

/** The policy of /work/shared/captures: alice/alicepw may run `show version` only. */
export const DEFAULT_POLICY: Policy = {
  users: {
    alice: {
      password: "alicepw",
      privLvl: 15,
      commands: ["show version"],
      services: { shell: [], ppp: ["addr=10.1.2.3"] },
    },
  },
};

/** One accounting request as the server received it, in arrival order. */
export interface AccountingRecord {
  /** Which accepted connection carried it (1-based, in accept order). */
  connection: number;
  sessionId: number;
  flags: number;
  user: string;
  port: string;
  remAddr: string;
  privLvl: number;
  args: Arg[];
}

/** Where an authentication session stands between packets (RFC 8907 §5.4.4 ASCII login). */
export type AuthenState = { kind: "await-user" } | { kind: "await-pass"; user: string };

/** What the server does with one request. */
export interface Outcome {
  /** Reply body (plaintext); undefined: send nothing (e.g. CONTINUE with ABORT, §5.4.3). */
  reply: Uint8Array | undefined;
  /** The session continues in this state; undefined: the session is over. */
  next: AuthenState | undefined;
  /** An accounting request to record. */
  record?: Omit<AccountingRecord, "connection">;
}

const USERNAME_PROMPT = "Username: ";
const PASSWORD_PROMPT = "Password: ";
const NO_DATA = new Uint8Array(0);
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * Reply bodies without per-request content are encoded once (the server's hot path in benchmarks).
 * Sharing is safe: encodePacket copies the body into the frame.
 */
const fixedBodies = new Map<string, Uint8Array>();
function fixedBody(key: string, encode: () => Uint8Array): Uint8Array {
  let body = fixedBodies.get(key);
  if (body === undefined) fixedBodies.set(key, (body = encode()));
  return body;
}

function authenReply(status: AuthenStatus, serverMsg = ""): Outcome {
  const reply = fixedBody(`authen ${status} ${serverMsg}`, () => encodeAuthenReply({ status, flags: 0, serverMsg, data: NO_DATA }));
  return { reply, next: undefined };
}

function prompt(status: AuthenStatus.GetUser | AuthenStatus.GetPass, next: AuthenState): Outcome {
  const isPass = status === AuthenStatus.GetPass;
  const flags = isPass ? AuthenReplyFlags.NoEcho : 0;
  const serverMsg = isPass ? PASSWORD_PROMPT : USERNAME_PROMPT;
  return { reply: fixedBody(`prompt ${status}`, () => encodeAuthenReply({ status, flags, serverMsg, data: NO_DATA })), next };
}

function errorOutcome(type: PacketType, message: string): Outcome {
  return { reply: errorReplyBody(type, message), next: undefined };
}

/** Constant-time string comparison, so the test server is no worse an example than it needs to be. */
function sameSecret(given: Uint8Array, expected: string): boolean {
  const want = encoder.encode(expected);
  return given.length === want.length && timingSafeEqual(given, want);
}

function checkPassword(policy: Policy, user: string, password: Uint8Array): Outcome {
  const entry = policy.users[user];
  const ok = entry !== undefined && sameSecret(password, entry.password);
  return ok ? authenReply(AuthenStatus.Pass) : authenReply(AuthenStatus.Fail, "authentication failed");
}

/** CHAP (§5.4.2.3): the response must be MD5(id ‖ secret ‖ challenge). */
function checkChap(policy: Policy, user: string, data: Uint8Array): Outcome {
  const secret = policy.users[user]?.chapSecret;
  if (secret === undefined) return authenReply(AuthenStatus.Fail, "authentication failed");
  const { pppId, challenge, response } = decodeChallengeResponse(AuthenType.Chap, data);
  const expected = createHash("md5").update(Uint8Array.of(pppId)).update(secret).update(challenge).digest();
  return timingSafeEqual(response, expected) ? authenReply(AuthenStatus.Pass) : authenReply(AuthenStatus.Fail, "authentication failed");
}

function authenStart(policy: Policy, version: number, body: Uint8Array): Outcome {
  const start = decodeAuthenStart(body);
  if (start.action !== AuthenAction.Login) return authenReply(AuthenStatus.Fail, `authentication action ${start.action} is not supported`);
  // §5.4.1: PAP/CHAP/MS-CHAP use minor version 1, ASCII minor version 0; a mismatch is an error.
  const expectedVersion = minorVersionFor(start.action, start.authenType);
  if (version !== expectedVersion) {
    return authenReply(AuthenStatus.Error, `version 0x${version.toString(16)} is wrong for this authentication type`);
  }
  const entry = policy.users[start.user];
  if (entry !== undefined && start.privLvl > entry.privLvl) return authenReply(AuthenStatus.Fail, "privilege level not permitted");
  switch (start.authenType) {
    case AuthenType.Pap:
      return checkPassword(policy, start.user, start.data);
    case AuthenType.Chap:
      return checkChap(policy, start.user, start.data);
    case AuthenType.Ascii:
      return start.user === "" ? prompt(AuthenStatus.GetUser, { kind: "await-user" }) : prompt(AuthenStatus.GetPass, { kind: "await-pass", user: start.user });
    default:
      return authenReply(AuthenStatus.Fail, `authentication type ${start.authenType} is not supported`);
  }
}

function authenContinue(policy: Policy, state: AuthenState, body: Uint8Array): Outcome {
  const cont = decodeAuthenContinue(body);
  if ((cont.flags & AuthenContinueFlags.Abort) !== 0) return { reply: undefined, next: undefined };
  if (state.kind === "await-user") {
    const user = decoder.decode(cont.userMsg);
    return user === "" ? prompt(AuthenStatus.GetUser, state) : prompt(AuthenStatus.GetPass, { kind: "await-pass", user });
  }
  return checkPassword(policy, state.user, cont.userMsg);
}

function authorReply(status: AuthorStatus, serverMsg = "", args: Arg[] = []): Outcome {
  const reply =
    args.length === 0
      ? fixedBody(`author ${status} ${serverMsg}`, () => encodeAuthorReply({ status, args, serverMsg, data: "" }))
      : encodeAuthorReply({ status, args, serverMsg, data: "" });
  return { reply, next: undefined };
}

/** The arguments authorization looks at: the first `service` and `cmd`, every `cmd-arg` in order. */
function commandOf(args: readonly Arg[]): { service?: string; cmd: string; cmdArgs: string[] } {
  let service: string | undefined;
  let cmd: string | undefined;
  const cmdArgs: string[] = [];
  for (const arg of args) {
    if (arg.name === "service") service ??= arg.value;
    else if (arg.name === "cmd") cmd ??= arg.value;
    else if (arg.name === "cmd-arg") cmdArgs.push(arg.value);
  }
  return { service, cmd: cmd ?? "", cmdArgs };
}

function authorize(policy: Policy, request: AuthorRequest): Outcome {
  const user = policy.users[request.user];
  if (user === undefined) return authorReply(AuthorStatus.Fail, "unknown user");
  if (request.privLvl > user.privLvl) return authorReply(AuthorStatus.Fail, "privilege level not permitted");
  const { service, cmd, cmdArgs } = commandOf(request.args);
  if (service === undefined) return authorReply(AuthorStatus.Error, "no service argument");
  if (service === "shell" && cmd !== "") {
    const command = cmdArgs.length === 0 ? cmd : `${cmd} ${cmdArgs.join(" ")}`;
    const permitted = user.commands.includes("*") || user.commands.includes(command) || user.commands.includes(`${cmd} *`);
    return permitted ? authorReply(AuthorStatus.PassAdd) : authorReply(AuthorStatus.Fail, "command not permitted");
  }
  const granted = user.services[service];
  if (granted === undefined) return authorReply(AuthorStatus.Fail, "service not permitted");
  const args = granted.map(parseArg);
  if (service === "shell") args.push({ name: "priv-lvl", value: String(user.privLvl), mandatory: true });
  return authorReply(AuthorStatus.PassAdd, "", args);
}

function account(request: AcctRequest, sessionId: number): Outcome {
  const { flags, user, port, remAddr, privLvl, args } = request;
  return {
    reply: fixedBody("acct success", () => encodeAcctReply({ status: AcctStatus.Success, serverMsg: "", data: "" })),
    next: undefined,
    record: { sessionId, flags, user, port, remAddr, privLvl, args },
  };
}

/**
 * Answers one client packet. `state` is the session's state when the packet continues a session,
 * undefined when it starts one. A body the codec rejects gets an ERROR reply naming the problem.
 */
export function respond(
  policy: Policy,
  state: AuthenState | undefined,
  header: { type: PacketType; version: number; seqNo: number; sessionId: number },
  body: Uint8Array,
): Outcome {
  try {
    if (state !== undefined) {
      if (header.type !== PacketType.Authentication) return errorOutcome(header.type, "packet type changed within the session");
      return authenContinue(policy, state, body);
    }
    if (header.seqNo !== 1) return errorOutcome(header.type, `unknown session (seq_no ${header.seqNo})`);
    switch (header.type) {
      case PacketType.Authentication:
        return authenStart(policy, header.version, body);
      case PacketType.Authorization:
        return authorize(policy, decodeAuthorRequest(body));
      case PacketType.Accounting:
        return account(decodeAcctRequest(body), header.sessionId);
    }
  } catch (error) {
    if (error instanceof CodecError) return errorOutcome(header.type, `malformed request: ${error.message}`);
    throw error;
  }
}
