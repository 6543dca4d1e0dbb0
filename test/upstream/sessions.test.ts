/** Sessions: authentication with CONTINUE, cancellation, the in-flight bound, close and reconfigure (loopback). */
import { afterEach, expect, test } from "bun:test";
import { Cancellation } from "../../src/common/cancellation";
import { AuthenStatus, AuthorStatus, decodeAuthenReply } from "../../src/protocol";
import { UpstreamError, type StartRequest } from "../../src/upstream/types";
import { asciiLogin, authenContinue, papLogin, type Request } from "../support/tacacs-client";
import { authorization, authorStatus, engine, server, stopAll, upstream } from "./helpers";

afterEach(stopAll);

const start = (request: Request, deadlineMs = 2000): StartRequest => ({ ...request, deadline: Date.now() + deadlineMs, resendable: true });
const authenStatus = (body: Uint8Array): AuthenStatus => decodeAuthenReply(body).status;

async function failure(promise: Promise<unknown>): Promise<UpstreamError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(UpstreamError);
  return error as UpstreamError;
}

test("ASCII login runs GETUSER / GETPASS / PASS over CONTINUE on the session's connection", async () => {
  const ts = await server();
  const agent = engine([upstream(ts, "primary")]);
  const session = await agent.start(start(asciiLogin("")));
  expect(authenStatus(session.reply.body)).toBe(AuthenStatus.GetUser);
  const user = await session.continue(authenContinue("alice").body, Date.now() + 2000);
  expect(user.seqNo).toBe(4);
  expect(authenStatus(user.body)).toBe(AuthenStatus.GetPass);
  const pass = await session.continue(authenContinue("alicepw").body, Date.now() + 2000);
  expect(authenStatus(pass.body)).toBe(AuthenStatus.Pass);
  expect(session.overTls).toBe(false);
  expect(agent.status().servers[0]!.sessionsInFlight).toBe(0); // a terminal reply ends the session
  const error = await failure(session.continue(authenContinue("again").body, Date.now() + 2000));
  expect(error.kind).toBe("protocol");
});

test("PAP login answers in one exchange; a wrong password is FAIL from the same server", async () => {
  const [ts, backup] = await Promise.all([server(), server()]);
  const agent = engine([upstream(ts, "primary"), upstream(backup, "backup")]);
  expect(authenStatus((await agent.start(start(papLogin("alice", "alicepw")))).reply.body)).toBe(AuthenStatus.Pass);
  const denied = await agent.start(start(papLogin("alice", "wrong")));
  expect(denied.server).toBe("primary");
  expect(authenStatus(denied.reply.body)).toBe(AuthenStatus.Fail);
  expect(backup.counters.packetsReceived).toBe(0);
});

test("end() frees an unfinished session; sessions in flight are counted until then", async () => {
  const ts = await server();
  const agent = engine([upstream(ts, "primary")]);
  const session = await agent.start(start(asciiLogin("alice")));
  expect(authenStatus(session.reply.body)).toBe(AuthenStatus.GetPass);
  expect(agent.status().servers[0]!.sessionsInFlight).toBe(1);
  session.end();
  session.end();
  expect(agent.status().servers[0]!.sessionsInFlight).toBe(0);
});

test("beyond maxSessionsInFlight requests fail at once with a retriable error", async () => {
  const ts = await server({ faults: { delayMs: 200 } });
  const agent = engine([upstream(ts, "primary")], { maxSessionsInFlight: 5 });
  await agent.warmUp();
  const pending = Array.from({ length: 5 }, () => agent.start(authorization()));
  // Let the first one negotiate single-connect and the others queue behind it.
  await Bun.sleep(10);
  const error = await failure(agent.start(authorization()));
  expect(error).toMatchObject({ retriable: true, kind: "unavailable", server: "primary" });
  expect((await Promise.all(pending)).map(authorStatus)).toEqual(Array(5).fill(AuthorStatus.PassAdd));
});

test("a cancelled request fails as cancelled and leaves the shared connection usable", async () => {
  const ts = await server({ faults: { delayMs: 100 } });
  const agent = engine([upstream(ts, "primary")]);
  await agent.start(authorization());
  const cancellation = new Cancellation();
  const pending = agent.start({ ...authorization(), cancellation });
  await Bun.sleep(20);
  cancellation.cancel(new Error("the caller left"));
  expect((await failure(pending)).kind).toBe("cancelled");
  expect(authorStatus(await agent.start(authorization()))).toBe(AuthorStatus.PassAdd);
  expect(ts.counters.connectionsAccepted).toBe(1);
});

test("close() fails pending requests as cancelled", async () => {
  const ts = await server({ faults: { blackHole: true } });
  const agent = engine([upstream(ts, "hole", { timeoutMs: 5000 })]);
  const pending = agent.start(authorization());
  await Bun.sleep(30);
  await agent.close();
  expect((await failure(pending)).kind).toBe("cancelled");
  expect((await failure(agent.start(authorization()))).kind).toBe("cancelled");
});

test("reconfigure: sessions in flight finish on their old connection, new requests use the new list", async () => {
  const [old, replacement] = await Promise.all([server({ faults: { delayMs: 150 } }), server()]);
  const agent = engine([upstream(old, "old")]);
  await agent.start(authorization());
  const inFlight = agent.start(authorization());
  await Bun.sleep(30);
  agent.reconfigure({ servers: [upstream(replacement, "new")], connectTimeoutMs: 1000, probeIntervalMs: 60_000, maxSessionsInFlight: 100 });
  expect((await agent.start(authorization())).server).toBe("new");
  const finished = await inFlight;
  expect(finished.server).toBe("old");
  expect(authorStatus(finished)).toBe(AuthorStatus.PassAdd);
  expect(agent.status().servers.map((s) => s.name)).toEqual(["new"]);
  await Bun.sleep(20);
  expect(old.counters.connectionsOpen).toBe(0); // the drained connection closed after its last session
});

test("IPv6 loopback servers work and show as [::1]:port", async () => {
  const ts = await server({ host: "::1" });
  const agent = engine([upstream(ts, "v6")]);
  expect(authorStatus(await agent.start(authorization()))).toBe(AuthorStatus.PassAdd);
  expect(agent.status().servers[0]).toMatchObject({ address: `[::1]:${ts.port}`, connected: true });
});
