/**
 * The fault matrix: each upstream fault of the test server × both entry points (gRPC API and
 * TACACS+ proxy), through the COMPILED agent, one agent per fault (a fresh failover state per row;
 * an agent starts in ~0.5 s, so the whole file stays well under a minute).
 *
 * Each row: a faulty preferred server and a healthy backup; accounting and authorization through
 * both entry points at once. Every request gets exactly one outcome (an answer, or an error that
 * says retriable); authorization is always saved by the backup (safe to repeat); accounting is
 * saved by the backup when it never reached the faulty server, else the caller gets a retriable
 * error and retries. Then the records the servers stored are matched against the successes
 * callers were told (README "Delivery rules": no loss; duplicates only after a retriable error),
 * the fault is cleared and the agent must serve normally.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startAgent, type AgentProcess } from "../support/agent-process";
import { testPki } from "../support/pki";
import { NO_FAULTS, startTacacsServer, type Faults, type TacacsServerOptions, type TestServer } from "../support/tacacs-server";
import { accountingViolations, burst, send, tally, type Sent, type Targets } from "./traffic";

const SECRET = "fault-matrix-secret-7f3a";
const KEY = new TextEncoder().encode(SECRET);
/** Requests per entry point and kind in the first burst of a row. */
const PER_KIND = 4;

const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await Promise.resolve(cleanup()).catch(() => {});
});

const nameOf = (server: TestServer) => `127.0.0.1:${server.port}`;

interface Row {
  primary: TestServer;
  backup: TestServer;
  agent: AgentProcess;
  targets: Targets;
}

async function startRow(primaryOptions: TacacsServerOptions, backupOptions: TacacsServerOptions, extraArgs: string[] = []): Promise<Row> {
  const primary = await startTacacsServer(primaryOptions);
  cleanups.push(() => primary.stop());
  const backup = await startTacacsServer(backupOptions);
  cleanups.push(() => backup.stop());
  const dir = mkdtempSync(join(tmpdir(), "fault-matrix-"));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const proxy = join(dir, "proxy.sock");
  const agent = await startAgent(
    [
      "--server-addr", nameOf(primary), "--server-addr", nameOf(backup),
      "--proxy-endpoint", proxy,
      "--request-timeout-seconds", "1", "--connect-timeout-seconds", "1", "--preferred-probe-interval-seconds", "600",
      ...extraArgs,
    ],
    { TACACSRS_SHARED_SECRET: SECRET },
    { dir },
  );
  cleanups.push(() => agent.stop());
  return { primary, backup, agent, targets: { api: { kind: "unix", path: agent.socket }, proxy: { kind: "unix", path: proxy }, proxyKey: KEY } };
}

/** The caller's side of the contract: a retriable error is retried (same task_id) until answered. */
async function retryRetriable(row: Row, first: readonly Sent[]): Promise<Sent[]> {
  const retries: Sent[] = [];
  let pending = first.filter((s) => s.outcome.kind === "error" && s.outcome.retriable);
  for (let round = 0; round < 3 && pending.length > 0; round++) {
    const again = await Promise.all(pending.map((s) => send(row.targets, s.entry, s.request, s.taskId)));
    retries.push(...again);
    pending = again.filter((s) => s.outcome.kind === "error" && s.outcome.retriable);
  }
  return retries;
}

/**
 * The checks every row shares; `accountingSavedByBackup` when the request never reached the faulty
 * server; `answeredBy` the servers that may answer (default: the backup only).
 */
async function checkRow(row: Row, first: readonly Sent[], accountingSavedByBackup: boolean, answeredBy = [row.backup]): Promise<void> {
  const context = () => `outcomes ${JSON.stringify(tally(first))}\nagent log tail:\n${row.agent.output().slice(-3000)}`;
  // Exactly one outcome each: an answer, or an error stating it is retriable.
  const bad = first.filter((s) => s.outcome.kind === "broken" || (s.outcome.kind === "error" && !s.outcome.retriable) || (s.outcome.kind === "answer" && !s.outcome.ok));
  expect(bad.map((s) => `${s.entry} ${s.request}: ${JSON.stringify(s.outcome)}`), context()).toEqual([]);
  // Authorization is safe to repeat: the backup answers every one.
  expect(first.filter((s) => s.request === "authorization" && s.outcome.kind !== "answer"), context()).toEqual([]);
  if (accountingSavedByBackup) expect(first.filter((s) => s.outcome.kind !== "answer"), context()).toEqual([]);
  // Which server answered: the faulty one never does (unless the row says so).
  const servers = first.flatMap((s) => (s.outcome.kind === "answer" && s.outcome.server !== undefined ? [s.outcome.server] : []));
  expect(servers.length).toBeGreaterThan(0);
  expect(servers.filter((name) => !answeredBy.map(nameOf).includes(name)), context()).toEqual([]);

  const retries = await retryRetriable(row, first);
  expect(retries.filter((s) => s.outcome.kind !== "answer"), context()).toEqual([]);
  const labels: Record<string, TestServer> = { primary: row.primary, backup: row.backup };
  const violations = accountingViolations([...first, ...retries], { primary: row.primary.records, backup: row.backup.records }, (label) => nameOf(labels[label]!));
  expect(violations, context()).toEqual([]);
  // Nothing lost: every accounting task_id is stored at least once after the retries.
  const storedIds = new Set([...row.primary.records, ...row.backup.records].map((r) => r.args.find((a) => a.name === "task_id")?.value));
  expect(first.filter((s) => s.request === "accounting" && !storedIds.has(s.taskId)).map((s) => s.taskId)).toEqual([]);
}

/** After the fault is cleared the agent serves every kind through both entry points. */
async function servesNormally(row: Row): Promise<void> {
  row.primary.setFaults(NO_FAULTS);
  const after = await burst(row.targets, 1, "after");
  expect(after.filter((s) => s.outcome.kind !== "answer" || !s.outcome.ok).map((s) => JSON.stringify(s.outcome))).toEqual([]);
  expect(row.agent.process.exitCode).toBeNull();
}

const PLAIN = { key: SECRET };

/** Faults where the request never reaches the faulty server, or is answered ERROR (nothing stored, re-sent). */
const SAVED: [string, Partial<Faults>][] = [
  ["refused", { refuse: true }],
  ["ERROR reply", { replyStatus: "error" }],
];
/** Faults after the request was written: accounting gets a retriable error, never a silent re-send. */
const DELIVERED: [string, Partial<Faults>][] = [
  ["black hole", { blackHole: true }],
  ["close after request", { closeAfterRequest: true }],
  ["close mid-reply", { closeMidReply: true }],
  ["slow reply beyond the timeout", { delayMs: 1500 }],
  ["garbage reply", { garbage: true }],
  ["wrong key", { wrongKey: true }],
];

describe("fault matrix through the compiled agent (API × proxy)", () => {
  for (const [name, faults] of SAVED) {
    test(`${name}: the backup answers everything`, async () => {
      const row = await startRow({ ...PLAIN, faults }, PLAIN);
      const first = await burst(row.targets, PER_KIND, name.replace(/\W+/g, "-"));
      await checkRow(row, first, true);
      if (faults.replyStatus === "error") expect(row.primary.counters.packetsByType.accounting).toBeGreaterThan(0);
      await servesNormally(row);
    }, 15_000);
  }

  for (const [name, faults] of DELIVERED) {
    test(`${name}: authorization saved by the backup, accounting answered or retriable, nothing lost`, async () => {
      const row = await startRow({ ...PLAIN, faults }, PLAIN);
      const started = Date.now();
      const first = await burst(row.targets, PER_KIND, name.replace(/\W+/g, "-"));
      // One reply timeout (1 s) on the faulty server, then the backup: requests waiting behind the
      // failed first exchange move on at once instead of queueing for new tries there.
      expect(Date.now() - started).toBeLessThan(3000);
      await checkRow(row, first, false);
      // The faulty server saw requests (the fault acted after delivery).
      expect(row.primary.counters.packetsReceived).toBeGreaterThan(0);
      await servesNormally(row);
    }, 15_000);
  }

  test("TLS handshake refusal (untrusted server certificate): the backup answers everything", async () => {
    const pki = await testPki();
    const row = await startRow(
      { tls: { cert: pki.untrustedServer.certPem, key: pki.untrustedServer.keyPem } },
      { tls: { cert: pki.server.certPem, key: pki.server.keyPem } },
      ["--use-tls", "--ca-certificate", pki.ca.certPath, "--tls-server-name", "localhost"],
    );
    const first = await burst(row.targets, PER_KIND, "tls-refusal");
    await checkRow(row, first, true);
    expect(row.primary.counters.packetsReceived).toBe(0);
    // Clearing means trusting nothing new: the backup keeps serving.
    const after = await burst(row.targets, 1, "tls-after");
    expect(after.filter((s) => s.outcome.kind !== "answer").map((s) => JSON.stringify(s.outcome))).toEqual([]);
  }, 20_000);

  test("connection reset with 50+ requests in flight on one single-connect connection", async () => {
    const row = await startRow({ ...PLAIN, faults: { delayMs: 700 } }, PLAIN);
    // Warm the connection so every request shares it.
    expect((await send(row.targets, "api", "authorization")).outcome.kind).toBe("answer");
    const accepted = row.primary.counters.connectionsAccepted;
    const received = row.primary.counters.packetsReceived;
    const inFlight = burst(row.targets, 13, "reset");
    const until = Date.now() + 3000;
    while (row.primary.counters.packetsReceived < received + 52 && Date.now() < until) await Bun.sleep(5);
    expect(row.primary.counters.packetsReceived - received).toBe(52);
    expect(row.primary.counters.connectionsAccepted).toBe(accepted);
    row.primary.resetConnections();
    const first = await inFlight;
    // Authorization may be re-sent once on a fresh connection to the (recovered) preferred server.
    await checkRow(row, first, false, [row.primary, row.backup]);
    // The records stored before the reset were answered by nobody: those are the retriable errors.
    expect(first.filter((s) => s.request === "accounting" && s.outcome.kind === "error").length).toBe(26);
    await servesNormally(row);
  }, 20_000);
});
