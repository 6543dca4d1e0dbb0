/**
 * Shared pieces of the accounting delivery tests (issue 15): a spool directory, records with a
 * caller lane and sequence number in task_id ("api-3-17"), senders through the API (the bench's
 * raw gRPC client) and through the proxy (a pam_tacplus-like client), and checks on what reached
 * the test servers.
 */
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { apiType } from "../../src/api/proto";
import type { Endpoint } from "../../src/common/endpoint";
import { AcctFlags, AcctStatus } from "../../src/protocol";
import { ACCOUNTING_PATH, encodeRequest, GrpcClient } from "../../scripts/bench/grpc-client";
import { account, arg } from "../support/legacy-client";
import type { AccountingRecord, TestServer } from "../support/tacacs-server";

export const SECRET = "issue-15-accounting-secret";

/** A 0700 directory for a spool (inside a temp dir that `cleanup` removes). */
export function spoolDirectory(): { root: string; spool: string; cleanup: () => void } {
  const root = mkdtempSync(join(tmpdir(), "tacacsrs-h15-"));
  const spool = join(root, "spool");
  Bun.spawnSync(["mkdir", "-m", "700", spool]);
  chmodSync(spool, 0o700);
  return { root, spool, cleanup: () => rmSync(root, { recursive: true, force: true }) };
}

export type Outcome = "queued" | "delivered" | "refused";

const replyType = () => apiType("tacacsrs.agent.v1.AccountingReply");

function apiOutcome(message: Uint8Array): Outcome {
  const reply = replyType().toObject(replyType().decode(message)) as { response?: { queued?: boolean; status?: number }; error?: { retriable: boolean } };
  if (reply.response?.queued) return "queued";
  if (reply.response?.status === 1) return "delivered";
  return "refused";
}

/**
 * Outcomes by task id. `lanes` callers each send their records one after the other, up to
 * `perLane` each; a lane stops early at its first failed call (the agent went away).
 */
export async function sendThroughApi(socket: string, prefix: string, lanes: number, perLane: number, outcomes: Map<string, Outcome>): Promise<void> {
  const client = new GrpcClient({ kind: "unix", path: socket }, 4);
  try {
    if (!(await client.ready(5000).then(() => true, () => false))) return;
    await Promise.all(
      Array.from({ length: lanes }, async (_, lane) => {
        for (let seq = 0; seq < perLane; seq++) {
          const taskId = `${prefix}-${lane}-${seq}`;
          const body = encodeRequest("tacacsrs.agent.v1.AccountingRequest", { user: "audit15", port: "tty15", remoteAddress: "10.0.15.1", command: "show", commandArguments: [taskId], recordType: 2, taskId });
          const result = await client.callAsync(ACCOUNTING_PATH, body).catch(() => undefined);
          outcomes.set(taskId, result && result.status === 0 ? apiOutcome(result.message) : "refused");
          if (!result) return;
        }
      }),
    );
  } finally {
    client.close();
  }
}

/** The same through the proxy, one connection per record as pam_tacplus does. */
export async function sendThroughProxy(endpoint: Endpoint, prefix: string, lanes: number, perLane: number, outcomes: Map<string, Outcome>): Promise<void> {
  const options = { endpoint, key: new TextEncoder().encode(SECRET), timeoutMs: 10_000 };
  await Promise.all(
    Array.from({ length: lanes }, async (_, lane) => {
      for (let seq = 0; seq < perLane; seq++) {
        const taskId = `${prefix}-${lane}-${seq}`;
        const exchange = await account(options, "audit15", AcctFlags.Stop, [arg("service", "shell"), arg("cmd", "show"), arg("task_id", taskId)]).catch(() => undefined);
        const reply = exchange?.last;
        outcomes.set(taskId, reply?.status === AcctStatus.Success ? (reply.serverMsg.includes("queued") ? "queued" : "delivered") : "refused");
      }
    }),
  );
}

export const taskIdOf = (record: AccountingRecord): string => record.args.find((a) => a.name === "task_id")?.value ?? "";

/** Waits until the servers together hold `count` records of `prefix` (or `timeoutMs` passes). */
export async function waitForRecords(servers: TestServer[], count: (ids: string[]) => boolean, timeoutMs: number): Promise<string[]> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const ids = servers.flatMap((server) => server.records.map(taskIdOf));
    if (count(ids) || Date.now() > until) return ids;
    await Bun.sleep(100);
  }
}

/**
 * Within each caller lane, records reach every server in the order the caller sent them (the
 * spool replays in arrival order). Returns the first violation, or undefined.
 */
export function orderViolation(server: TestServer): string | undefined {
  const last = new Map<string, number>();
  for (const record of server.records) {
    const match = /^(.*)-(\d+)$/.exec(taskIdOf(record));
    if (!match) continue;
    const [, lane, seq] = match;
    const previous = last.get(lane!) ?? -1;
    if (Number(seq) <= previous) return `${lane}: ${seq} after ${previous}`;
    last.set(lane!, Number(seq));
  }
  return undefined;
}

/** Writes a --config document (RFC 7951 JSON, 0600) of loopback servers; `collector` marks tacacsrs-agentd:accounting-fan-out. */
export function writeYangConfig(path: string, servers: { name: string; port: number; collector: boolean }[]): string {
  const entry = (server: { name: string; port: number; collector: boolean }) => ({
    name: server.name,
    "server-type": "accounting",
    address: "127.0.0.1",
    port: server.port,
    "shared-secret": SECRET,
    "single-connection": true,
    ...(server.collector ? { "tacacsrs-agentd:accounting-fan-out": true } : {}),
  });
  writeFileSync(path, JSON.stringify({ "ietf-system:system": { "ietf-system-tacacs-plus:tacacs-plus": { server: servers.map(entry) } } }), { mode: 0o600 });
  return path;
}
