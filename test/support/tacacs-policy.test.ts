import { describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import {
  AcctFlags,
  AcctStatus,
  AuthenContinueFlags,
  AuthenReplyFlags,
  AuthenStatus,
  AuthorStatus,
  PacketType,
  VERSION_DEFAULT,
  VERSION_ONE,
  decodeAcctReply,
  decodeAuthenReply,
  decodeAuthorReply,
  encodeChallengeResponse,
  AuthenType,
} from "../../src/protocol";
import { account, asciiLogin, authenContinue, authorize, authorizeCommand, chapLogin, papLogin, type Request } from "./tacacs-client";
import { DEFAULT_POLICY, respond, type AuthenState, type Policy } from "./tacacs-policy";

const POLICY: Policy = {
  users: {
    ...DEFAULT_POLICY.users,
    bob: { password: "bobpw", chapSecret: "bobchap", privLvl: 1, commands: ["*"], services: {} },
  },
};

function start(request: Request, sessionId = 9) {
  return respond(POLICY, undefined, { ...request, seqNo: 1, sessionId }, request.body);
}

function step(state: AuthenState, request: Request, seqNo: number) {
  return respond(POLICY, state, { ...request, seqNo, sessionId: 9 }, request.body);
}

const authen = (body: Uint8Array | undefined) => decodeAuthenReply(body!);
const author = (body: Uint8Array | undefined) => decodeAuthorReply(body!);

describe("authentication", () => {
  test("PAP passes with the right password and fails otherwise; the session ends", () => {
    const ok = start(papLogin("alice", "alicepw"));
    expect(authen(ok.reply).status).toBe(AuthenStatus.Pass);
    expect(ok.next).toBeUndefined();
    expect(authen(start(papLogin("alice", "wrong")).reply).status).toBe(AuthenStatus.Fail);
    expect(authen(start(papLogin("mallory", "alicepw")).reply).status).toBe(AuthenStatus.Fail);
  });

  test("PAP with minor version 0 is an ERROR (§5.4.1)", () => {
    const request = { ...papLogin("alice", "alicepw"), version: VERSION_DEFAULT };
    expect(authen(start(request).reply).status).toBe(AuthenStatus.Error);
    const ascii = { ...asciiLogin("alice"), version: VERSION_ONE };
    expect(authen(start(ascii).reply).status).toBe(AuthenStatus.Error);
  });

  test("ASCII login walks await-user → await-pass → PASS/FAIL", () => {
    const first = start(asciiLogin(""));
    expect(authen(first.reply)).toMatchObject({ status: AuthenStatus.GetUser, serverMsg: "Username: ", flags: 0 });
    expect(first.next).toEqual({ kind: "await-user" });
    const second = step(first.next!, authenContinue("alice"), 3);
    expect(authen(second.reply)).toMatchObject({ status: AuthenStatus.GetPass, serverMsg: "Password: ", flags: AuthenReplyFlags.NoEcho });
    expect(second.next).toEqual({ kind: "await-pass", user: "alice" });
    expect(authen(step(second.next!, authenContinue("alicepw"), 5).reply).status).toBe(AuthenStatus.Pass);
    expect(authen(step(second.next!, authenContinue("nope"), 5).reply).status).toBe(AuthenStatus.Fail);
  });

  test("ASCII login with a user in START asks for the password only; an empty username is asked again", () => {
    expect(start(asciiLogin("alice")).next).toEqual({ kind: "await-pass", user: "alice" });
    const again = step({ kind: "await-user" }, authenContinue(""), 3);
    expect(authen(again.reply).status).toBe(AuthenStatus.GetUser);
    expect(again.next).toEqual({ kind: "await-user" });
  });

  test("CONTINUE with ABORT ends the session without a reply (§5.4.3)", () => {
    const aborted = step({ kind: "await-pass", user: "alice" }, authenContinue("", AuthenContinueFlags.Abort), 3);
    expect(aborted).toEqual({ reply: undefined, next: undefined });
  });

  test("CHAP checks MD5(id ‖ secret ‖ challenge)", () => {
    const challenge = new TextEncoder().encode("0123456789abcdef");
    const chap = (secret: string) =>
      encodeChallengeResponse(AuthenType.Chap, {
        pppId: 7,
        challenge,
        response: createHash("md5").update(Uint8Array.of(7)).update(secret).update(challenge).digest(),
      });
    expect(authen(start(chapLogin("bob", chap("bobchap"))).reply).status).toBe(AuthenStatus.Pass);
    expect(authen(start(chapLogin("bob", chap("other"))).reply).status).toBe(AuthenStatus.Fail);
    expect(authen(start(chapLogin("alice", chap("alicepw"))).reply).status).toBe(AuthenStatus.Fail);
  });

  test("a malformed body gets an ERROR reply naming the problem", () => {
    const reply = authen(respond(POLICY, undefined, { type: PacketType.Authentication, version: VERSION_ONE, seqNo: 1, sessionId: 1 }, new Uint8Array(3)).reply);
    expect(reply.status).toBe(AuthenStatus.Error);
    expect(reply.serverMsg).toStartWith("malformed request:");
  });

  test("a packet with seq_no > 1 and no session is an ERROR", () => {
    const request = authenContinue("alice");
    expect(authen(respond(POLICY, undefined, { ...request, seqNo: 3, sessionId: 1 }, request.body).reply).status).toBe(AuthenStatus.Error);
  });
});

describe("authorization", () => {
  test("alice may run `show version` only (the captures' policy)", () => {
    expect(author(start(authorizeCommand("alice", "show", "version")).reply)).toMatchObject({ status: AuthorStatus.PassAdd, args: [] });
    expect(author(start(authorizeCommand("alice", "show", "running-config")).reply).status).toBe(AuthorStatus.Fail);
    expect(author(start(authorizeCommand("alice", "show")).reply).status).toBe(AuthorStatus.Fail);
  });

  test("services: ppp returns its args, shell exec returns priv-lvl, others are denied", () => {
    expect(author(start(authorize("alice", ["service=ppp", "protocol=ip"])).reply)).toMatchObject({
      status: AuthorStatus.PassAdd,
      args: [{ name: "addr", value: "10.1.2.3", mandatory: true }],
    });
    expect(author(start(authorize("alice", ["service=shell", "cmd="])).reply).args).toEqual([{ name: "priv-lvl", value: "15", mandatory: true }]);
    expect(author(start(authorize("alice", ["service=slip"])).reply).status).toBe(AuthorStatus.Fail);
    expect(author(start(authorize("bob", ["service=shell"])).reply).status).toBe(AuthorStatus.Fail);
  });

  test("unknown users, too high a priv-lvl and a missing service are refused", () => {
    expect(author(start(authorizeCommand("mallory", "show", "version")).reply).status).toBe(AuthorStatus.Fail);
    expect(author(start(authorizeCommand("bob", "reload")).reply).status).toBe(AuthorStatus.PassAdd);
    const highPriv = authorizeCommand("bob", "reload");
    // priv_lvl is the second byte of the REQUEST body (§6.1).
    highPriv.body[1] = 15;
    expect(author(start(highPriv).reply).status).toBe(AuthorStatus.Fail);
    expect(author(start(authorize("alice", ["cmd=show"])).reply).status).toBe(AuthorStatus.Error);
  });
});

describe("accounting", () => {
  test("a request is answered SUCCESS and returned as a record", () => {
    const outcome = start(account("alice", AcctFlags.Stop, ["task_id=7", "service=shell"]), 1234);
    expect(decodeAcctReply(outcome.reply!).status).toBe(AcctStatus.Success);
    expect(outcome.record).toMatchObject({ sessionId: 1234, flags: AcctFlags.Stop, user: "alice", port: "tty1", remAddr: "192.0.2.1" });
    expect(outcome.record!.args.map((a) => `${a.name}=${a.value}`)).toEqual(["task_id=7", "service=shell"]);
  });

  test("an invalid flag combination is an ERROR, not a record", () => {
    const request = account("alice", AcctFlags.Start);
    request.body[0] = AcctFlags.Start | AcctFlags.Stop;
    const outcome = start(request);
    expect(decodeAcctReply(outcome.reply!).status).toBe(AcctStatus.Error);
    expect(outcome.record).toBeUndefined();
  });
});
