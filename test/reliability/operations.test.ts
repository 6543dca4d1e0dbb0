/**
 * SIGTERM and SIGHUP with requests in flight, through the COMPILED agent:
 * - SIGTERM lets in-flight API and proxy requests finish, refuses new ones, removes both sockets
 *   and exits 0; with --shutdown-grace-seconds exceeded, the remaining requests get an error
 *   (never silence) and the exit still comes within the bound.
 * - SIGHUP applies a new server and shared secret (YANG --config) while requests are in flight on
 *   the old server: they complete there, the listeners stay open, new requests use the new server.
 */
import { afterEach, expect, test } from "bun:test";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startAgent, type AgentProcess } from "../support/agent-process";
import { startTacacsServer, type TestServer } from "../support/tacacs-server";
import { send, type Outcome, type Targets } from "./traffic";

const OLD_SECRET = "operations-old-secret-1";
const NEW_SECRET = "operations-new-secret-2";
const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await Promise.resolve(cleanup()).catch(() => {});
});

async function server(key: string, delayMs = 0): Promise<TestServer> {
  const s = await startTacacsServer({ key, faults: { delayMs } });
  cleanups.push(() => s.stop());
  return s;
}

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "operations-"));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

async function agent(args: string[], secret: string | undefined, dir: string): Promise<{ agent: AgentProcess; targets: Targets; proxy: string }> {
  const proxy = join(dir, "proxy.sock");
  const a = await startAgent([...args, "--proxy-endpoint", proxy, "-vv"], secret ? { TACACSRS_SHARED_SECRET: secret } : {}, { dir });
  cleanups.push(() => a.stop());
  return { agent: a, proxy, targets: { api: { kind: "unix", path: a.socket }, proxy: { kind: "unix", path: proxy }, proxyKey: new TextEncoder().encode(secret ?? OLD_SECRET) } };
}

/** Resolves once the server has received `count` packets (bounded). */
async function received(s: TestServer, count: number): Promise<void> {
  const until = Date.now() + 3000;
  while (s.counters.packetsReceived < count && Date.now() < until) await Bun.sleep(5);
  expect(s.counters.packetsReceived).toBeGreaterThanOrEqual(count);
}

test("SIGTERM: in-flight requests finish, new ones are refused, sockets removed, exit 0", async () => {
  const slow = await server(OLD_SECRET, 800);
  const { agent: a, targets, proxy } = await agent(["--server-addr", `127.0.0.1:${slow.port}`, "--shutdown-grace-seconds", "5"], OLD_SECRET, tempDir());
  const inFlight = Promise.all([send(targets, "api", "accounting"), send(targets, "proxy", "accounting"), send(targets, "api", "authorization"), send(targets, "proxy", "authorization")]);
  await received(slow, 4);
  const started = Date.now();
  a.process.kill("SIGTERM");
  await Bun.sleep(100);
  const late = await send(targets, "api", "accounting");
  expect(late.outcome.kind).not.toBe("answer");
  const outcomes = await inFlight;
  const viaApi: Outcome = { kind: "answer", ok: true, server: `127.0.0.1:${slow.port}` };
  const viaProxy: Outcome = { kind: "answer", ok: true };
  expect(outcomes.map((s) => s.outcome)).toEqual([viaApi, viaProxy, viaApi, viaProxy]);
  expect(await a.process.exited).toBe(0);
  expect(Date.now() - started).toBeLessThan(3000);
  expect(existsSync(a.socket)).toBe(false);
  expect(existsSync(proxy)).toBe(false);
  expect(slow.records.length).toBe(2);
}, 15_000);

test("SIGTERM beyond --shutdown-grace-seconds: the rest get an error, the exit stays within the bound", async () => {
  const hole = await startTacacsServer({ key: OLD_SECRET, faults: { blackHole: true } });
  cleanups.push(() => hole.stop());
  const { agent: a, targets } = await agent(["--server-addr", `127.0.0.1:${hole.port}`, "--shutdown-grace-seconds", "1", "--request-timeout-seconds", "30"], OLD_SECRET, tempDir());
  const inFlight = Promise.all([send(targets, "api", "accounting"), send(targets, "proxy", "accounting")]);
  // The first request negotiates single-connect (§4.3); the second waits inside the agent meanwhile.
  await received(hole, 1);
  await Bun.sleep(200);
  const started = Date.now();
  a.process.kill("SIGTERM");
  const outcomes = await inFlight;
  // Retriable: UNAVAILABLE from the API, a TACACS+ ERROR from the proxy.
  expect(outcomes.map((s) => s.outcome)).toEqual([
    { kind: "error", retriable: true, message: expect.stringContaining("shutting down") },
    { kind: "error", retriable: true, message: expect.any(String) },
  ]);
  expect(await a.process.exited).toBe(0);
  expect(Date.now() - started).toBeLessThan(3500);
}, 15_000);

test("SIGHUP: a new server and secret apply to new requests; in-flight ones finish on the old server; listeners stay", async () => {
  const old = await server(OLD_SECRET, 800);
  const next = await server(NEW_SECRET);
  const dir = tempDir();
  const config = join(dir, "tacacs.json");
  const yang = (s: TestServer, name: string, secret: string) =>
    JSON.stringify({ "ietf-system-tacacs-plus:tacacs-plus": { server: [{ name, "server-type": "authentication authorization accounting", address: "127.0.0.1", port: s.port, "shared-secret": secret }] } });
  writeFileSync(config, yang(old, "old", OLD_SECRET));
  // The proxy's downstream secret is its own (--proxy-shared-secret), so legacy clients keep theirs.
  const { agent: a, targets } = await agent(["--config", config, "--proxy-shared-secret", OLD_SECRET], undefined, dir);
  const inFlight = Promise.all([send(targets, "api", "accounting"), send(targets, "proxy", "accounting")]);
  await received(old, 2);
  writeFileSync(config, yang(next, "next", NEW_SECRET));
  a.process.kill("SIGHUP");
  const until = Date.now() + 3000;
  while (!a.output().includes("configuration reloaded") && Date.now() < until) await Bun.sleep(20);
  expect(a.output()).toContain("configuration reloaded");
  const outcomes = await inFlight;
  expect(outcomes.map((s) => s.outcome)).toEqual([{ kind: "answer", ok: true, server: "old" }, { kind: "answer", ok: true }]);
  const after = await Promise.all([send(targets, "api", "accounting"), send(targets, "proxy", "accounting")]);
  expect(after.map((s) => s.outcome)).toEqual([{ kind: "answer", ok: true, server: "next" }, { kind: "answer", ok: true }]);
  expect(old.records.length).toBe(2);
  expect(next.records.length).toBe(2);
  expect(next.counters.protocolErrors).toBe(0);
  expect(a.output()).not.toContain(NEW_SECRET);
}, 15_000);
