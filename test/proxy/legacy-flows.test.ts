/**
 * The transition guide's pam_tacplus and audisp-tacplus flows through the proxy, with the real
 * upstream engine and the test server: a fresh connection per request, no single-connect, the
 * client's own secret. Each runs over every upstream in UPSTREAMS: plain TCP and stunnel TLS 1.3.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { AcctFlags, AcctStatus, AuthenStatus, AuthorStatus, Flags, PacketType, type Packet } from "../../src/protocol";
import { account, arg, asciiLogin, authorize, papLogin, type LegacyClientOptions } from "../support/legacy-client";
import { havePeer } from "../support/peer";
import { LAB_KEY, plainUpstream, startProxyStack, stunnelTlsUpstream, type ProxyStack, type Upstream } from "../support/proxy-stack";

const UPSTREAMS: [string, () => Upstream][] = [
  ["plain TCP upstream", () => plainUpstream()],
  ...(havePeer("stunnel4") ? [["stunnel TLS 1.3 upstream", stunnelTlsUpstream] as [string, () => Upstream]] : []),
];

const key = new TextEncoder().encode(LAB_KEY);

/** Every reply keeps the client's session id, counts seq_no 2, 4 …, and never offers single-connect. */
function expectDownstreamHeaders(replies: Packet[], type: PacketType) {
  const sessionIds = new Set(replies.map((r) => r.header.sessionId));
  expect(sessionIds.size).toBe(1);
  replies.forEach((reply, index) => {
    expect(reply.header.type).toBe(type);
    expect(reply.header.seqNo).toBe(2 * (index + 1));
    expect(reply.header.flags & (Flags.SingleConnect | Flags.Unencrypted)).toBe(0);
  });
}

describe.each(UPSTREAMS)("%s", (_, makeUpstream) => {
  let stack: ProxyStack;
  let client: LegacyClientOptions;

  beforeAll(async () => {
    // The upstream offers single-connect: the proxy must still not advertise it downstream.
    stack = await startProxyStack({ upstream: makeUpstream(), singleConnection: true });
    client = { endpoint: stack.proxy.endpoint, key };
  });
  afterAll(() => stack?.stop());

  test("pam_tacplus login=pap: PASS, then FAIL with a wrong password", async () => {
    const pass = await papLogin(client, "alice", "alicepw");
    expect(pass.last.status).toBe(AuthenStatus.Pass);
    expect(pass.closedAfter).toBe(true);
    expectDownstreamHeaders(pass.replies, PacketType.Authentication);
    expect(pass.replies[0]!.header.version).toBe(0xc1);

    const fail = await papLogin(client, "alice", "wrongpw");
    expect(fail.last.status).toBe(AuthenStatus.Fail);
    expect(fail.closedAfter).toBe(true);
  });

  test("pam_tacplus login=login: ASCII GETPASS → CONTINUE → PASS, then FAIL", async () => {
    const pass = await asciiLogin(client, "alice", "alicepw");
    expect(pass.replies.map((r) => r.body[0])).toEqual([AuthenStatus.GetPass, AuthenStatus.Pass]);
    expect(pass.closedAfter).toBe(true);
    expectDownstreamHeaders(pass.replies, PacketType.Authentication);

    const fail = await asciiLogin(client, "alice", "wrongpw");
    expect(fail.last.status).toBe(AuthenStatus.Fail);
  });

  test("ASCII login without a user in START: GETUSER → GETPASS → PASS on one connection, seq_no 2, 4, 6", async () => {
    const login = await asciiLogin(client, "alice", "alicepw", false);
    expect(login.replies.map((r) => r.body[0])).toEqual([AuthenStatus.GetUser, AuthenStatus.GetPass, AuthenStatus.Pass]);
    expectDownstreamHeaders(login.replies, PacketType.Authentication);
    expect(login.closedAfter).toBe(true);
  });

  test("pam_tacplus account phase: service=shell cmd=… authorization, permitted and denied", async () => {
    const permitted = await authorize(client, "alice", [arg("service", "shell"), arg("protocol", "ssh"), arg("cmd", "show"), arg("cmd-arg", "version")]);
    expect(permitted.last.status).toBe(AuthorStatus.PassAdd);
    expect(permitted.closedAfter).toBe(true);
    expectDownstreamHeaders(permitted.replies, PacketType.Authorization);

    const denied = await authorize(client, "alice", [arg("service", "shell"), arg("cmd", "show"), arg("cmd-arg", "running-config")]);
    expect(denied.last.status).toBe(AuthorStatus.Fail);

    const ppp = await authorize(client, "alice", [arg("service", "ppp"), arg("protocol", "ip")]);
    expect(ppp.last).toMatchObject({ status: AuthorStatus.PassAdd, args: [{ name: "addr", value: "10.1.2.3", mandatory: true }] });
  });

  test("pam_tacplus session / audisp-tacplus: accounting START and STOP with task_id reach the server", async () => {
    const before = stack.servers[0]!.records.length;
    const args = [arg("task_id", "4711"), arg("service", "shell"), arg("protocol", "ssh")];
    const start = await account(client, "alice", AcctFlags.Start, args);
    const stop = await account(client, "alice", AcctFlags.Stop, [...args, arg("elapsed_time", "3")]);
    for (const exchange of [start, stop]) {
      expect(exchange.last.status).toBe(AcctStatus.Success);
      expect(exchange.closedAfter).toBe(true);
      expectDownstreamHeaders(exchange.replies, PacketType.Accounting);
    }
    const records = stack.servers[0]!.records.slice(before);
    expect(records.map((r) => r.flags)).toEqual([AcctFlags.Start, AcctFlags.Stop]);
    expect(records.every((r) => r.args.some((a) => a.name === "task_id" && a.value === "4711"))).toBe(true);
    // Only the header session id is rewritten: the server saw the engine's id, the client its own.
    expect(records[0]!.sessionId).not.toBe(start.replies[0]!.header.sessionId);
  });

  test("a client with the wrong secret gets no answer and no upstream traffic", async () => {
    const before = stack.servers[0]!.counters.packetsReceived;
    const refused = await papLogin({ ...client, key: new TextEncoder().encode("not-the-key") }, "alice", "alicepw").catch((error: Error) => error);
    expect(refused).toBeInstanceOf(Error);
    expect((refused as Error).message).toContain("closed without a reply");
    expect(stack.servers[0]!.counters.packetsReceived).toBe(before);
  });
});

describe("failover and unavailability underneath the proxy", () => {
  test("the preferred upstream dies between two downstream connections: the second still succeeds", async () => {
    const stack = await startProxyStack({ servers: [{ key: LAB_KEY }, { key: LAB_KEY }] });
    try {
      const client = { endpoint: stack.proxy.endpoint, key };
      expect((await papLogin(client, "alice", "alicepw")).last.status).toBe(AuthenStatus.Pass);
      expect(stack.servers[0]!.counters.sessionsStarted).toBe(1);
      stack.servers[0]!.setFaults({ refuse: true });
      stack.servers[0]!.resetConnections();
      const second = await authorize(client, "alice", [arg("service", "shell"), arg("cmd", "show"), arg("cmd-arg", "version")]);
      expect(second.last.status).toBe(AuthorStatus.PassAdd);
      expect(stack.servers[1]!.counters.sessionsStarted).toBe(1);
    } finally {
      await stack.stop();
    }
  });

  test("no upstream can serve: a well-formed ERROR of the request's type arrives promptly, then close", async () => {
    const stack = await startProxyStack({ servers: [{ key: LAB_KEY, faults: { refuse: true } }, { key: LAB_KEY, faults: { refuse: true } }] });
    try {
      const client = { endpoint: stack.proxy.endpoint, key };
      const began = Date.now();
      const authen = await papLogin(client, "alice", "alicepw");
      expect(Date.now() - began).toBeLessThan(1500);
      expect(authen.last.status).toBe(AuthenStatus.Error);
      expect(authen.closedAfter).toBe(true);
      expectDownstreamHeaders(authen.replies, PacketType.Authentication);
      const author = await authorize(client, "alice", [arg("service", "shell")]);
      expect(author.last.status).toBe(AuthorStatus.Error);
      const acct = await account(client, "alice", AcctFlags.Start, [arg("task_id", "1")]);
      expect(acct.last.status).toBe(AcctStatus.Error);
    } finally {
      await stack.stop();
    }
  });

  test("accounting is not acknowledged downstream when the upstream never answers", async () => {
    const stack = await startProxyStack({ servers: [{ key: LAB_KEY, faults: { blackHole: true } }], timeoutMs: 300, idleTimeoutMs: 1000 });
    try {
      const acct = await account({ endpoint: stack.proxy.endpoint, key }, "alice", AcctFlags.Stop, [arg("task_id", "9")]);
      expect(acct.last.status).toBe(AcctStatus.Error);
      expect(stack.servers[0]!.counters.packetsByType.accounting).toBe(1);
    } finally {
      await stack.stop();
    }
  });

  test("an injected upstream FOLLOW is forwarded and the connection closed", async () => {
    const stack = await startProxyStack({ servers: [{ key: LAB_KEY, faults: { replyStatus: "follow" } }] });
    try {
      const author = await authorize({ endpoint: stack.proxy.endpoint, key }, "alice", [arg("service", "shell")]);
      expect(author.last.status).toBe(AuthorStatus.Follow);
      expect(author.closedAfter).toBe(true);
    } finally {
      await stack.stop();
    }
  });

  test("an injected authentication RESTART is forwarded and the connection closed", async () => {
    const stack = await startProxyStack({ servers: [{ key: LAB_KEY, faults: { replyStatus: "restart" } }] });
    try {
      const login = await papLogin({ endpoint: stack.proxy.endpoint, key }, "alice", "alicepw");
      expect(login.last.status).toBe(AuthenStatus.Restart);
      expect(login.closedAfter).toBe(true);
    } finally {
      await stack.stop();
    }
  });
});

describe("secrets", () => {
  test("--proxy-shared-secret: the client uses its own key while the upstream uses labkey123", async () => {
    const stack = await startProxyStack({ proxySharedSecret: "local-only" });
    try {
      const login = await asciiLogin({ endpoint: stack.proxy.endpoint, key: new TextEncoder().encode("local-only") }, "alice", "alicepw");
      expect(login.last.status).toBe(AuthenStatus.Pass);
    } finally {
      await stack.stop();
    }
  });

  test("a new --proxy-shared-secret (SIGHUP) applies to the next connection", async () => {
    const options = { proxySharedSecret: "before-reload" };
    const stack = await startProxyStack(options);
    try {
      const key = (text: string) => ({ endpoint: stack.proxy.endpoint, key: new TextEncoder().encode(text), timeoutMs: 1000 });
      expect((await papLogin(key("before-reload"), "alice", "alicepw")).last.status).toBe(AuthenStatus.Pass);
      options.proxySharedSecret = "after-reload";
      expect((await papLogin(key("after-reload"), "alice", "alicepw")).last.status).toBe(AuthenStatus.Pass);
      await expect(papLogin(key("before-reload"), "alice", "alicepw")).rejects.toThrow();
    } finally {
      await stack.stop();
    }
  });

  test("an upstream without a shared secret: the client sends unencrypted packets and gets unencrypted replies", async () => {
    const stack = await startProxyStack({ servers: [{}], upstream: plainUpstream(null) });
    try {
      const login = await papLogin({ endpoint: stack.proxy.endpoint }, "alice", "alicepw");
      expect(login.last.status).toBe(AuthenStatus.Pass);
      expect(login.replies[0]!.header.flags).toBe(Flags.Unencrypted);
    } finally {
      await stack.stop();
    }
  });
});
