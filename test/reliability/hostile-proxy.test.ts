/**
 * Issue 19, item 3 (proxy): 256 connections (the default --max-proxy-connections) that send half
 * a TACACS+ header and then nothing held every slot for the 30 s idle timeout on the old agent,
 * and could simply reconnect. Now a connection without a request makes room for a new one, and
 * loses its slot after the first-packet deadline anyway. A checker sends real proxy requests.
 */
import { afterEach, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startAgent } from "../support/agent-process";
import { rssKiB } from "../support/hostile-client";
import { LegacyConnection } from "../support/legacy-client";
import { startTacacsServer } from "../support/tacacs-server";
import { send, type Sent } from "./traffic";

const SECRET = "hostile-proxy-19";
const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await Promise.resolve(cleanup()).catch(() => {});
});

test("half-header connections at --max-proxy-connections do not lock out real clients", async () => {
  const server = await startTacacsServer({ key: SECRET });
  cleanups.push(() => server.stop());
  const dir = mkdtempSync(join(tmpdir(), "hostile-proxy-19-"));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const proxy = join(dir, "proxy.sock");
  const agent = await startAgent(["--server-addr", `127.0.0.1:${server.port}`, "--proxy-endpoint", proxy], { TACACSRS_SHARED_SECRET: SECRET }, { dir });
  cleanups.push(() => agent.stop());
  const targets = { api: { kind: "unix" as const, path: agent.socket }, proxy: { kind: "unix" as const, path: proxy }, proxyKey: new TextEncoder().encode(SECRET), timeoutMs: 5000 };
  const before = rssKiB(agent.process.pid);
  const hogs = await Promise.all(Array.from({ length: 256 }, () => LegacyConnection.open(targets.proxy)));
  cleanups.push(() => hogs.forEach((hog) => hog.close()));
  for (const hog of hogs) hog.write(Uint8Array.from([0xc0, 3, 1, 0, 0, 0]));
  await Bun.sleep(200);
  const sent: Promise<Sent>[] = [];
  for (let i = 0; i < 16; i++) {
    sent.push(send(targets, "proxy", "accounting"));
    await Bun.sleep(150);
  }
  const outcomes = await Promise.all(sent);
  const ok = outcomes.filter((o) => o.outcome.kind === "answer" && o.outcome.ok).length;
  console.log(`proxy hogs: checker ${ok} of ${outcomes.length} answered; ${JSON.stringify(outcomes.find((o) => o.outcome.kind !== "answer")?.outcome ?? null)}`);
  expect(ok / outcomes.length).toBeGreaterThanOrEqual(0.95);
  expect(rssKiB(agent.process.pid) - before).toBeLessThan(64 * 1024);
}, 30_000);
