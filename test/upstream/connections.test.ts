/** Connection reuse, single-flight connect, single-connect negotiation and lost connections (loopback). */
import { afterEach, expect, test } from "bun:test";
import { AcctStatus, AuthorStatus } from "../../src/protocol";
import { UpstreamError } from "../../src/upstream";
import { accounting, acctStatus, authorization, authorStatus, engine, server, sleep, stopAll, until, upstream } from "./helpers";

afterEach(stopAll);

test("1000 sequential requests over single-connect use one connection", async () => {
  const ts = await server();
  const agent = engine([upstream(ts, "primary")]);
  for (let i = 0; i < 1000; i++) expect(authorStatus(await agent.start(authorization()))).toBe(AuthorStatus.PassAdd);
  expect(ts.counters.connectionsAccepted).toBe(1);
  expect(ts.counters.sessionsStarted).toBe(1000);
  const status = agent.status().servers[0]!;
  expect(status.singleConnect).toBe("supported");
  expect(status.sessionsInFlight).toBe(0);
  expect(status.counters).toMatchObject({ connectionOpens: 1, messagesSent: 1000, messagesReceived: 1000, sessions: 1000, errorsReceived: 0 });
});

test("200 concurrent requests on a cold engine open exactly one connection", async () => {
  const ts = await server();
  const agent = engine([upstream(ts, "primary")]);
  const sessions = await Promise.all(Array.from({ length: 200 }, () => agent.start(authorization())));
  expect(sessions.map(authorStatus).every((s) => s === AuthorStatus.PassAdd)).toBe(true);
  expect(ts.counters.connectionsAccepted).toBe(1);
  // Session ids are unique on the shared connection.
  expect(new Set(sessions.map((s) => s.reply.sessionId)).size).toBe(200);
});

test("200 concurrent requests against a refusing server make one connect attempt, then fail over", async () => {
  const down = await server({ faults: { refuse: true } });
  const backup = await server();
  const agent = engine([upstream(down, "down"), upstream(backup, "backup")]);
  const sessions = await Promise.all(Array.from({ length: 200 }, () => agent.start(authorization())));
  expect(sessions.every((s) => s.server === "backup")).toBe(true);
  expect(agent.status().servers[0]!.counters.connectionFailures).toBe(1);
  expect(backup.counters.connectionsAccepted).toBe(1);
});

test("a server without single-connect gets a connection per session, also under concurrency", async () => {
  const ts = await server({ singleConnect: false });
  const agent = engine([upstream(ts, "legacy")]);
  for (let i = 0; i < 5; i++) expect(authorStatus(await agent.start(authorization()))).toBe(AuthorStatus.PassAdd);
  expect(ts.counters.connectionsAccepted).toBe(5);
  expect(agent.status().servers[0]!.singleConnect).toBe("unsupported");
  const sessions = await Promise.all(Array.from({ length: 50 }, () => agent.start(authorization())));
  expect(sessions.map(authorStatus).every((s) => s === AuthorStatus.PassAdd)).toBe(true);
  expect(ts.counters.connectionsAccepted).toBe(55);
  const counters = agent.status().servers[0]!.counters;
  expect(counters.connectionOpens).toBe(55);
  await Bun.sleep(20);
  expect(agent.status().servers[0]!.counters.connectionCloses).toBe(55);
});

test("a server configured without single-connect is never offered it", async () => {
  const ts = await server();
  const agent = engine([upstream(ts, "plain", { singleConnection: false })]);
  for (let i = 0; i < 3; i++) await agent.start(authorization());
  expect(ts.counters.connectionsAccepted).toBe(3);
});

test("a server that closes idle connections is reconnected transparently", async () => {
  const ts = await server({ faults: { idleTimeoutMs: 150 } });
  const agent = engine([upstream(ts, "idle")]);
  expect(authorStatus(await agent.start(authorization()))).toBe(AuthorStatus.PassAdd);
  await sleep(250);
  expect(ts.counters.connectionsOpen).toBe(0);
  // An idle timeout is no sign of a server that closes after each session.
  expect(agent.status().servers[0]!.singleConnect).toBe("supported");
  expect(authorStatus(await agent.start(authorization()))).toBe(AuthorStatus.PassAdd);
  expect(acctStatus(await agent.start(accounting("1")))).toBe(AcctStatus.Success);
  expect(ts.counters.connectionsAccepted).toBe(2);
  expect(agent.status().state).toBe("PreferredActive");
});

test("a server that closes right after each session gets a connection per session", async () => {
  const ts = await server({ faults: { idleTimeoutMs: 5 } });
  const agent = engine([upstream(ts, "closer")]);
  await agent.start(authorization());
  await until(() => ts.counters.connectionsOpen === 0);
  await Bun.sleep(10);
  expect(agent.status().servers[0]!.singleConnect).toBe("unsupported");
  for (let i = 0; i < 10; i++) expect(acctStatus(await agent.start(accounting(String(i))))).toBe(AcctStatus.Success);
  expect(ts.counters.connectionsAccepted).toBe(11);
});

test("a reset with 50 requests in flight: every request gets exactly one outcome, accounting is never re-sent", async () => {
  const ts = await server({ faults: { delayMs: 150 } });
  const agent = engine([upstream(ts, "primary")]);
  await agent.start(authorization()); // negotiates single-connect, so all 50 are written at once
  const outcomes = new Map<number, "answered" | "retriable-error">();
  const requests = Array.from({ length: 50 }, (_, i) => {
    const request = i % 2 === 0 ? authorization() : accounting(String(i));
    return agent.start(request).then(
      () => {
        expect(outcomes.has(i)).toBe(false);
        outcomes.set(i, "answered");
      },
      (error: unknown) => {
        expect(outcomes.has(i)).toBe(false);
        expect(error).toBeInstanceOf(UpstreamError);
        expect((error as UpstreamError).retriable).toBe(true);
        outcomes.set(i, "retriable-error");
      },
    );
  });
  await sleep(50);
  ts.resetConnections();
  ts.setFaults({ delayMs: 0 });
  await Promise.all(requests);
  expect(outcomes.size).toBe(50);
  for (const [i, outcome] of outcomes) expect(outcome).toBe(i % 2 === 0 ? "answered" : "retriable-error");
  expect(ts.counters.connectionsAccepted).toBe(2); // the authorizations went again on one fresh connection
  // Each accounting request reached the server once, before the reset; none was sent again.
  const taskIds = ts.records.map((r) => r.args.find((a) => a.name === "task_id")?.value);
  expect(taskIds.length).toBe(25);
  expect(new Set(taskIds).size).toBe(25);
});
