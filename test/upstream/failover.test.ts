/** Ordered failover, preferred-server probing, warm-up and reply-status handling (loopback). */
import { afterEach, expect, test } from "bun:test";
import { AcctStatus, AuthorStatus } from "../../src/protocol";
import { UpstreamError } from "../../src/upstream";
import { startUnansweredPort } from "../support/unanswered-port";
import {
  accounting,
  acctStatus,
  authorization,
  authorStatus,
  capturingLogger,
  engine,
  KEY,
  server,
  stopAll,
  until,
  upstream,
} from "./helpers";

afterEach(stopAll);

async function rejection(promise: Promise<unknown>): Promise<UpstreamError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(UpstreamError);
    return error as UpstreamError;
  }
  throw new Error("expected an UpstreamError");
}

test("a refusing preferred server fails over to the first backup, strictly in order", async () => {
  const [down, first, second] = await Promise.all([server({ faults: { refuse: true } }), server(), server()]);
  const agent = engine([upstream(down, "down"), upstream(first, "first"), upstream(second, "second")]);
  const session = await agent.start(authorization());
  expect(session.server).toBe("first");
  expect(second.counters.connectionsAccepted).toBe(0);
  expect(agent.status()).toMatchObject({ state: "FailedOver", activeServer: 1 });
  // New requests go straight to the active backup: no new connect attempt to the preferred server.
  await agent.start(authorization());
  expect(agent.status().servers[0]!.counters.connectionFailures).toBe(1);
});

test("requests waiting behind a black-holed first exchange go to the backup at once, not to new tries there", async () => {
  const [hole, backup] = await Promise.all([server({ faults: { blackHole: true } }), server()]);
  const agent = engine([upstream(hole, "hole", { timeoutMs: 300 }), upstream(backup, "backup")]);
  const started = Date.now();
  const sessions = await Promise.all(Array.from({ length: 8 }, () => agent.start(authorization("version", 5000))));
  expect(sessions.map((s) => s.server)).toEqual(Array(8).fill("backup"));
  // One reply timeout on the hole (the first request, re-sent once), not one per waiting request.
  expect(Date.now() - started).toBeLessThan(900);
  expect(hole.counters.packetsReceived).toBeLessThanOrEqual(2);
});

test("a killed preferred server: the next request is served by the backup", async () => {
  const [preferred, backup] = await Promise.all([server(), server()]);
  const agent = engine([upstream(preferred, "preferred"), upstream(backup, "backup")]);
  expect((await agent.start(authorization())).server).toBe("preferred");
  await preferred.stop();
  const session = await agent.start(authorization());
  expect(session.server).toBe("backup");
  expect(authorStatus(session)).toBe(AuthorStatus.PassAdd);
});

test("a black-holed preferred server times out and the request fails over within its deadline", async () => {
  const [hole, backup] = await Promise.all([server({ faults: { blackHole: true } }), server()]);
  const agent = engine([upstream(hole, "hole", { timeoutMs: 150 }), upstream(backup, "backup")]);
  const started = Date.now();
  const session = await agent.start(authorization("version", 2000));
  expect(session.server).toBe("backup");
  expect(Date.now() - started).toBeLessThan(1000);
  expect(agent.status().servers[0]!.counters.connectionTimeouts).toBe(1);
});

test("a connect that never completes is bounded by the connect timeout, then the backup answers", async () => {
  const pit = await startUnansweredPort();
  try {
    const backup = await server();
    const agent = engine([{ ...upstream(backup, "pit"), host: pit.host, port: pit.port }, upstream(backup, "backup")], { connectTimeoutMs: 150 });
    const started = Date.now();
    expect((await agent.start(authorization())).server).toBe("backup");
    expect(Date.now() - started).toBeLessThan(1000);
    expect(agent.status().servers[0]!.counters).toMatchObject({ connectionFailures: 1, connectionTimeouts: 1, connectionOpens: 0 });
  } finally {
    pit.stop();
  }
}, 15_000); // starting the python3 helper takes seconds on a loaded machine; the engine's part is bounded above

test("a server answering garbage is dropped for the backup", async () => {
  const [garbled, backup] = await Promise.all([server({ faults: { garbage: true } }), server()]);
  const log = capturingLogger();
  const agent = engine([upstream(garbled, "garbled"), upstream(backup, "backup")], {}, log);
  expect((await agent.start(authorization())).server).toBe("backup");
  expect(log.lines.some((l) => l.startsWith("warn") && l.includes("garbled: bad reply"))).toBe(true);
});

test("a slow server within its timeout keeps serving; beyond it the request fails over", async () => {
  const [slow, backup] = await Promise.all([server({ faults: { delayMs: 100 } }), server()]);
  const agent = engine([upstream(slow, "slow", { timeoutMs: 400 }), upstream(backup, "backup")]);
  expect((await agent.start(authorization())).server).toBe("slow");
  slow.setFaults({ delayMs: 600 });
  expect((await agent.start(authorization())).server).toBe("backup");
  expect(agent.status().state).toBe("FailedOver");
});

test("the caller's deadline bounds the whole attempt", async () => {
  const hole = await server({ faults: { blackHole: true } });
  const agent = engine([upstream(hole, "hole", { timeoutMs: 5000 })]);
  const started = Date.now();
  const error = await rejection(agent.start(authorization("version", 150)));
  expect(Date.now() - started).toBeLessThan(1000);
  expect(error).toMatchObject({ retriable: true, server: "hole", kind: "timeout" });
  // The caller's impatience is not the server's failure.
  expect(agent.status()).toMatchObject({ state: "PreferredActive", servers: [{ counters: { connectionTimeouts: 0 } }] });
});

test("all servers down: a retriable error naming the last server; then one comes back", async () => {
  const [a, b] = await Promise.all([server({ faults: { refuse: true } }), server({ faults: { refuse: true } })]);
  const agent = engine([upstream(a, "a"), upstream(b, "b")]);
  const error = await rejection(agent.start(authorization()));
  expect(error).toMatchObject({ retriable: true, server: "b", kind: "exhausted" });
  expect(error.message).toContain("b");
  expect(agent.status().state).toBe("NoResponsiveServer");
  b.setFaults({ refuse: false });
  expect((await agent.start(authorization())).server).toBe("b");
  expect(agent.status()).toMatchObject({ state: "FailedOver", activeServer: 1 });
});

test("a probe brings traffic back to the recovered preferred server", async () => {
  const [preferred, backup] = await Promise.all([server({ faults: { refuse: true } }), server()]);
  const log = capturingLogger();
  const agent = engine([upstream(preferred, "preferred"), upstream(backup, "backup")], { probeIntervalMs: 50 }, log);
  expect((await agent.start(authorization())).server).toBe("backup");
  await Bun.sleep(150);
  expect(agent.status().state).toBe("FailedOver"); // probes keep failing while it refuses
  preferred.setFaults({ refuse: false });
  await until(() => agent.status().state === "PreferredActive", 1000);
  expect(preferred.counters.connectionsAccepted).toBe(1); // the probe's connection...
  expect((await agent.start(authorization())).server).toBe("preferred");
  expect(preferred.counters.connectionsAccepted).toBe(1); // ...carries the next request
  expect(log.lines.some((l) => l.startsWith("warn") && l.includes("FailedOver (backup) → PreferredActive (preferred)"))).toBe(true);
});

test("warm-up connects in order and stops at the first success; it never throws", async () => {
  const [down, first, second] = await Promise.all([server({ faults: { refuse: true } }), server(), server()]);
  const agent = engine([upstream(down, "down"), upstream(first, "first"), upstream(second, "second")]);
  await agent.warmUp();
  expect(first.counters.connectionsAccepted).toBe(1);
  expect(second.counters.connectionsAccepted).toBe(0);
  expect(agent.status()).toMatchObject({ state: "FailedOver", activeServer: 1 });
  expect(agent.status().servers[1]!.connected).toBe(true);

  const nothing = engine([upstream(down, "down")]);
  await nothing.warmUp();
  expect(nothing.status().state).toBe("NoResponsiveServer");
});

test("an ERROR reply fails over; FAIL and FOLLOW are final answers", async () => {
  const [erring, backup] = await Promise.all([server({ faults: { replyStatus: "error" } }), server()]);
  const agent = engine([upstream(erring, "erring"), upstream(backup, "backup")]);
  const session = await agent.start(authorization());
  expect(session.server).toBe("backup");
  expect(agent.status().servers[0]!.counters.errorsReceived).toBe(1);

  const [denying, untouched] = await Promise.all([server(), server()]);
  const strict = engine([upstream(denying, "denying"), upstream(untouched, "untouched")]);
  const denied = await strict.start(authorization("running-config"));
  expect(denied.server).toBe("denying");
  expect(authorStatus(denied)).toBe(AuthorStatus.Fail);
  denying.setFaults({ replyStatus: "follow" });
  expect(authorStatus(await strict.start(authorization()))).toBe(AuthorStatus.Follow);
  expect(untouched.counters.packetsReceived).toBe(0);
  expect(strict.status().state).toBe("PreferredActive");
});

test("the last server's ERROR reply is returned as its answer", async () => {
  const erring = await server({ faults: { replyStatus: "error" } });
  const agent = engine([upstream(erring, "erring")]);
  expect(authorStatus(await agent.start(authorization()))).toBe(AuthorStatus.Error);
});

test("a wrong shared secret closes the connection, is logged with the server name, and fails over", async () => {
  const [wrong, backup] = await Promise.all([server({ key: "another-key" }), server()]);
  const log = capturingLogger();
  const agent = engine([upstream(wrong, "wrong-key-server"), upstream(backup, "backup")], {}, log);
  expect((await agent.start(authorization())).server).toBe("backup");
  const warning = log.lines.find((l) => l.startsWith("warn") && l.includes("wrong-key-server"));
  expect(warning).toBeDefined();
  expect(warning).toContain("wrong shared secret?");
  for (const line of log.lines) {
    expect(line).not.toContain(KEY);
    expect(line).not.toContain("another-key");
  }
  expect(agent.status().servers[0]!.counters.connectionAborts).toBe(1);
});

test("accounting that may have reached a dying server is not re-sent; authorization is", async () => {
  const [dying, backup] = await Promise.all([server({ faults: { closeAfterRequest: true } }), server()]);
  const agent = engine([upstream(dying, "dying"), upstream(backup, "backup")]);
  const error = await rejection(agent.start(accounting("42")));
  expect(error).toMatchObject({ retriable: true, server: "dying" });
  expect(error.message).toContain("not re-sent");
  expect(backup.counters.packetsReceived).toBe(0);
  expect(dying.counters.packetsByType.accounting).toBe(1);

  expect(agent.status().state).toBe("FailedOver");
  expect(acctStatus(await agent.start(accounting("43")))).toBe(AcctStatus.Success); // now on the backup

  const fresh = engine([upstream(dying, "dying"), upstream(backup, "backup")]);
  expect((await fresh.start(authorization())).server).toBe("backup");
  expect(dying.counters.packetsByType.authorization).toBe(2); // once, then once more on a fresh connection
});
