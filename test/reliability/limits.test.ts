/**
 * The resource limits end to end through the COMPILED agent: each flag set small, exceeded, and
 * the excess refused at once with a clear error (RESOURCE_EXHAUSTED on the API, a TACACS+ ERROR or
 * a close on the proxy), never queued; the agent serves normally afterwards.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { createConnection } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ApiClient, callUnary, ApiCallError } from "../../src/api/client";
import type { Endpoint } from "../../src/common/endpoint";
import { AcctFlags, AcctStatus, encodeAcctRequest, encodePacket, PacketType, AuthenMethod, AuthenType, AuthenService, decodePacket, decodeAcctReply } from "../../src/protocol";
import { startAgent, type AgentProcess } from "../support/agent-process";
import { account, arg, LegacyConnection } from "../support/legacy-client";
import { DEFAULT_POLICY, startTacacsServer, type Policy, type TestServer } from "../support/tacacs-server";
import { send } from "./traffic";

const SECRET = "limits-secret-5d1c";
const KEY = new TextEncoder().encode(SECRET);

const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await Promise.resolve(cleanup()).catch(() => {});
});

interface Setup {
  server: TestServer;
  agent: AgentProcess;
  api: Endpoint;
  proxy: Endpoint;
}

/** alice may start service ppp, whose PASS_ADD reply carries ~2 KB of arguments. */
const POLICY: Policy = { users: { alice: { ...DEFAULT_POLICY.users.alice!, services: { shell: [], ppp: Array.from({ length: 10 }, (_, i) => `route${i}=${"r".repeat(200)}`) } } } };

async function setup(limits: string[], delayMs = 0): Promise<Setup> {
  const server = await startTacacsServer({ key: SECRET, faults: { delayMs }, policy: POLICY });
  cleanups.push(() => server.stop());
  const dir = mkdtempSync(join(tmpdir(), "limits-"));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const proxy = join(dir, "proxy.sock");
  const agent = await startAgent(["--server-addr", `127.0.0.1:${server.port}`, "--proxy-endpoint", proxy, ...limits], { TACACSRS_SHARED_SECRET: SECRET }, { dir });
  cleanups.push(() => agent.stop());
  return { server, agent, api: { kind: "unix", path: agent.socket }, proxy: { kind: "unix", path: proxy } };
}

const targets = (s: Setup) => ({ api: s.api, proxy: s.proxy, proxyKey: KEY });

function accounting(api: Endpoint): Promise<Record<string, unknown>> {
  return callUnary(api, "Accounting", { user: "alice", port: "tty0", command: "show", taskId: "limits" }, 8000);
}

/** Resolves with how long `promise` took and its outcome (value or error). */
async function timed<T>(promise: Promise<T>): Promise<{ ms: number; value?: T; error?: unknown }> {
  const started = Date.now();
  try {
    const value = await promise;
    return { ms: Date.now() - started, value };
  } catch (error) {
    return { ms: Date.now() - started, error };
  }
}

describe("limits through the compiled agent", () => {
  test("--max-api-streams: calls beyond it get RESOURCE_EXHAUSTED at once", async () => {
    // One uid makes every call here, so its per-peer share is the whole limit.
    const s = await setup(["--max-api-streams", "4", "--max-api-streams-per-peer", "4"], 1500);
    const outcomes = await Promise.all(Array.from({ length: 10 }, () => timed(accounting(s.api))));
    const answered = outcomes.filter((o) => o.value !== undefined);
    const refused = outcomes.filter((o) => o.error instanceof ApiCallError && o.error.codeName === "RESOURCE_EXHAUSTED");
    expect(answered.length).toBe(4);
    expect(refused.length).toBe(6);
    // Refused well before the admitted calls' 1.5 s upstream delay ends: not queued.
    expect(refused.every((o) => o.ms < 1200)).toBe(true);
    expect(String((refused[0]!.error as Error).message)).toContain("limit 4");
    expect((await accounting(s.api)).result).toBe("response");
  }, 15_000);

  test("--max-api-connections: a connection beyond it is closed at once; a freed slot is usable", async () => {
    const s = await setup(["--max-api-connections", "3", "--max-api-connections-per-peer", "3", "-v"]);
    // Connections that completed a request keep their slot (one that never did would make room).
    const open = [new ApiClient(s.api), new ApiClient(s.api), new ApiClient(s.api)];
    cleanups.push(() => open.forEach((client) => client.close()));
    await Promise.all(open.map((client) => client.call("HealthCheck", {}, 5000)));
    await Bun.sleep(100);
    // The refusal is a reset, which may land before or after the client's connect completes.
    const closedAt = await new Promise<number>((resolve) => {
      const started = Date.now();
      const extra = createConnection({ path: s.agent.socket });
      extra.on("error", () => {});
      extra.on("close", () => resolve(Date.now() - started));
      extra.resume();
    });
    expect(closedAt).toBeLessThan(1000);
    await Bun.sleep(100);
    expect(s.agent.output()).toContain("--max-api-connections");
    open[0]!.close();
    await Bun.sleep(100);
    expect((await accounting(s.api)).result).toBe("response");
  }, 15_000);

  test("--max-sessions-in-flight: requests beyond it fail at once as retriable (API) or TACACS+ ERROR (proxy)", async () => {
    const s = await setup(["--max-sessions-in-flight", "3"], 1500);
    const outcomes = await Promise.all([
      ...Array.from({ length: 4 }, () => timed(send(targets(s), "api", "accounting"))),
      ...Array.from({ length: 4 }, () => timed(send(targets(s), "proxy", "accounting"))),
    ]);
    const sent = outcomes.map((o) => o.value!);
    const answered = sent.filter((x) => x.outcome.kind === "answer");
    const busy = outcomes.filter((o) => o.value!.outcome.kind === "error");
    expect(answered.length).toBe(3);
    expect(busy.length).toBe(5);
    expect(busy.every((o) => o.ms < 1200 && o.value!.outcome.kind === "error" && o.value!.outcome.retriable)).toBe(true);
    expect(s.server.counters.packetsReceived).toBe(3);
    expect((await send(targets(s), "proxy", "accounting")).outcome).toMatchObject({ kind: "answer", ok: true });
  }, 15_000);

  test("--max-proxy-connections: a connection beyond it is closed at once; a freed slot is usable", async () => {
    const s = await setup(["--max-proxy-connections", "3", "--proxy-idle-timeout-seconds", "10", "-v"], 1500);
    // Requests in flight hold their slots (a connection without one would make room instead).
    const inFlight = Array.from({ length: 3 }, () => send(targets(s), "proxy", "accounting"));
    await Bun.sleep(300);
    // The refusal is a close at accept, which may reach the client after or before its connect completes (ECONNRESET).
    const refused = await LegacyConnection.open(s.proxy).then(
      async (extra) => {
        try {
          return await extra.closedByPeer(1000);
        } finally {
          extra.close();
        }
      },
      (error: NodeJS.ErrnoException) => error.code === "ECONNRESET",
    );
    expect(refused).toBe(true);
    expect((await Promise.all(inFlight)).map((sent) => sent.outcome.kind)).toEqual(["answer", "answer", "answer"]);
    await Bun.sleep(100);
    const reply = await account({ endpoint: s.proxy, key: KEY }, "alice", AcctFlags.Stop, [arg("task_id", "after-limit")]);
    expect(reply.last.status).toBe(AcctStatus.Success);
    expect(s.agent.output()).toContain("refusing new connections");
  }, 15_000);

  test("--max-body-bytes: a larger downstream packet or upstream reply is refused, never buffered", async () => {
    const s = await setup(["--max-body-bytes", "1024"]);
    const body = encodeAcctRequest({
      flags: AcctFlags.Stop, authenMethod: AuthenMethod.TacacsPlus, privLvl: 1, authenType: AuthenType.Ascii, authenService: AuthenService.Login,
      user: "alice", port: "tty0", remAddr: "", args: [arg("task_id", "big"), arg("cmd", "x".repeat(200)), arg("cmd-arg", "y".repeat(240)), arg("cmd-arg", "z".repeat(240)), arg("cmd-arg", "w".repeat(240)), arg("cmd-arg", "v".repeat(240))],
    });
    expect(body.length).toBeGreaterThan(1024);
    const connection = await LegacyConnection.open(s.proxy);
    connection.write(encodePacket({ version: 0xc0, type: PacketType.Accounting, seqNo: 1, flags: 0, sessionId: 77 }, body, KEY));
    const first = await connection.next(3000);
    if (first !== "closed") {
      // A TACACS+ ERROR reply, then the close.
      expect(decodeAcctReply(decodePacket(first, KEY).body).status).toBe(AcctStatus.Error);
      expect(await connection.closedByPeer(2000)).toBe(true);
    }
    connection.close();
    expect(s.server.counters.packetsReceived).toBe(0);
    // An upstream reply beyond the limit is refused (a protocol error, retriable), not buffered.
    s.server.setFaults({});
    const big = await callUnary(s.api, "Authorization", { user: "alice", authenticationContext: 1, args: [{ name: "service", value: "ppp", mandatory: true }] }, 5000);
    expect(big.result).toBe("error");
    expect(big.error).toMatchObject({ retriable: true, message: expect.stringMatching(/1024/) });
    expect((await send(targets(s), "proxy", "accounting")).outcome).toMatchObject({ kind: "answer", ok: true });
  }, 15_000);

  test("--proxy-idle-timeout-seconds bounds silent, slow and dripping senders", async () => {
    const s = await setup(["--proxy-idle-timeout-seconds", "1"]);
    const silent = await LegacyConnection.open(s.proxy);
    const half = await LegacyConnection.open(s.proxy);
    half.write(Uint8Array.from([0xc0, 3, 1, 0, 0, 0])); // half a header, then nothing
    const drip = await LegacyConnection.open(s.proxy);
    const dripping = setInterval(() => drip.write(Uint8Array.from([0x41])), 200); // never a whole packet
    cleanups.push(() => clearInterval(dripping));
    const started = Date.now();
    const closed = await Promise.all([silent, half, drip].map((c) => c.closedByPeer(4000)));
    const elapsed = Date.now() - started;
    clearInterval(dripping);
    [silent, half, drip].forEach((c) => c.close());
    expect(closed).toEqual([true, true, true]);
    expect(elapsed).toBeGreaterThan(700);
    expect(elapsed).toBeLessThan(3000);
    expect((await send(targets(s), "proxy", "accounting")).outcome).toMatchObject({ kind: "answer", ok: true });
  }, 15_000);
});
