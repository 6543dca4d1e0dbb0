/**
 * Traffic for the reliability tests and the soak: accounting and authorization through both entry
 * points (the gRPC API and the TACACS+ proxy), each request reduced to its one outcome, and the
 * accounting check "what the upstreams stored matches what callers were told" (README, Delivery rules).
 */
import { callUnary, ApiCallError } from "../../src/api/client";
import type { Endpoint } from "../../src/common/endpoint";
import { AcctFlags, AcctStatus, AuthorStatus } from "../../src/protocol";
import { account, arg, authorize } from "../support/legacy-client";
import type { AccountingRecord } from "../support/tacacs-server";

export type EntryPoint = "api" | "proxy";
export type RequestKind = "accounting" | "authorization";

/**
 * The one outcome of a request: an answer (with the answering server when the API names it), an
 * error with its retriable flag, or a broken exchange (no reply at all: always a defect).
 */
export type Outcome =
  | { kind: "answer"; ok: boolean; server?: string }
  | { kind: "error"; retriable: boolean; message: string }
  | { kind: "broken"; message: string };

export interface Sent {
  entry: EntryPoint;
  request: RequestKind;
  /** Accounting task_id, unique per request (retries keep it). */
  taskId: string;
  outcome: Outcome;
}

export interface Targets {
  api: Endpoint;
  proxy: Endpoint;
  /** The proxy's downstream secret. */
  proxyKey: Uint8Array;
  timeoutMs?: number;
}

const SHOW_VERSION = [arg("service", "shell"), arg("cmd", "show"), arg("cmd-arg", "version")];

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

async function viaApi(targets: Targets, request: RequestKind, taskId: string): Promise<Outcome> {
  const timeoutMs = targets.timeoutMs ?? 8000;
  try {
    const reply =
      request === "accounting"
        ? await callUnary(targets.api, "Accounting", { user: "alice", port: "tty0", remoteAddress: "10.0.0.1", command: "show", commandArguments: ["version"], recordType: 2, taskId }, timeoutMs)
        : await callUnary(targets.api, "Authorization", { user: "alice", port: "tty0", remoteAddress: "10.0.0.1", privilegeLevel: 1, authenticationContext: 1, args: SHOW_VERSION.map(({ name, value }) => ({ name, value, mandatory: true })) }, timeoutMs);
    if (reply.result === "error") {
      const error = reply.error as { message: string; retriable: boolean };
      return { kind: "error", retriable: error.retriable, message: error.message };
    }
    const response = reply.response as { server: string; status: string };
    const ok = response.status === "ACCOUNTING_STATUS_SUCCESS" || response.status === "AUTHORIZATION_STATUS_PASS_ADD";
    return { kind: "answer", ok, server: response.server };
  } catch (error) {
    // A gRPC-level failure (no reply message at all) names its status; RESOURCE_EXHAUSTED and
    // UNAVAILABLE are retriable by gRPC convention.
    if (error instanceof ApiCallError && !error.unreachable) {
      return { kind: "error", retriable: error.codeName === "RESOURCE_EXHAUSTED" || error.codeName === "UNAVAILABLE", message: `${error.codeName}: ${error.message}` };
    }
    return { kind: "broken", message: describe(error) };
  }
}

async function viaProxy(targets: Targets, request: RequestKind, taskId: string): Promise<Outcome> {
  const options = { endpoint: targets.proxy, key: targets.proxyKey, timeoutMs: targets.timeoutMs ?? 8000 };
  try {
    // Exactly one outcome: one reply, then the proxy closes (a second packet would show as no close).
    const oneReply = (exchange: { replies: unknown[]; closedAfter: boolean }): Outcome | undefined =>
      exchange.replies.length === 1 && exchange.closedAfter ? undefined : { kind: "broken", message: `${exchange.replies.length} replies, closed after: ${exchange.closedAfter}` };
    if (request === "accounting") {
      const exchange = await account(options, "alice", AcctFlags.Stop, [arg("task_id", taskId), arg("service", "shell")]);
      const broken = oneReply(exchange);
      if (broken) return broken;
      // The proxy's TACACS+ ERROR: the client's cue to retry (its only way to say "retriable").
      if (exchange.last.status === AcctStatus.Error) return { kind: "error", retriable: true, message: exchange.last.serverMsg };
      return { kind: "answer", ok: exchange.last.status === AcctStatus.Success };
    }
    const exchange = await authorize(options, "alice", SHOW_VERSION);
    const broken = oneReply(exchange);
    if (broken) return broken;
    if (exchange.last.status === AuthorStatus.Error) return { kind: "error", retriable: true, message: exchange.last.serverMsg };
    return { kind: "answer", ok: exchange.last.status === AuthorStatus.PassAdd };
  } catch (error) {
    return { kind: "broken", message: describe(error) };
  }
}

let sequence = 0;

/** A task_id nobody else uses in this process. */
export function newTaskId(prefix: string): string {
  return `${prefix}-${process.pid}-${++sequence}`;
}

export async function send(targets: Targets, entry: EntryPoint, request: RequestKind, taskId = newTaskId(entry)): Promise<Sent> {
  const outcome = await (entry === "api" ? viaApi : viaProxy)(targets, request, taskId);
  return { entry, request, taskId, outcome };
}

/** `count` requests of each entry point × kind, all at once. */
export function burst(targets: Targets, count: number, prefix: string): Promise<Sent[]> {
  const all: Promise<Sent>[] = [];
  for (let i = 0; i < count; i++) {
    for (const entry of ["api", "proxy"] as const) {
      for (const request of ["accounting", "authorization"] as const) all.push(send(targets, entry, request, newTaskId(`${prefix}-${entry}`)));
    }
  }
  return Promise.all(all);
}

/** Where each accounting task_id was stored: server label → task_id → count. */
function storedBy(servers: Record<string, readonly AccountingRecord[]>): Map<string, Map<string, number>> {
  const result = new Map<string, Map<string, number>>();
  for (const [label, records] of Object.entries(servers)) {
    const counts = new Map<string, number>();
    for (const record of records) {
      const taskId = record.args.find((a) => a.name === "task_id")?.value;
      if (taskId !== undefined) counts.set(taskId, (counts.get(taskId) ?? 0) + 1);
    }
    result.set(label, counts);
  }
  return result;
}

/**
 * The Delivery rules as checks over one round of accounting attempts (the first attempt and, after a
 * retriable error, the caller's retries, all with the same task_id). Returns the violations:
 * - every success was stored (by the server the API named, when it names one);
 * - a task_id stored more often than its successes is allowed only after a retriable error
 *   (the request may have reached a server; the caller retried), and at most once per such error;
 * - nothing is stored that no attempt sent.
 * `serverName` maps a server label to the name the API reports.
 */
export function accountingViolations(
  attempts: readonly Sent[],
  servers: Record<string, readonly AccountingRecord[]>,
  serverName: (label: string) => string,
): string[] {
  const stored = storedBy(servers);
  const byTask = new Map<string, Sent[]>();
  for (const attempt of attempts) {
    if (attempt.request !== "accounting") continue;
    byTask.set(attempt.taskId, [...(byTask.get(attempt.taskId) ?? []), attempt]);
  }
  const problems: string[] = [];
  const total = (taskId: string) => [...stored.values()].reduce((sum, counts) => sum + (counts.get(taskId) ?? 0), 0);
  for (const [taskId, tries] of byTask) {
    const successes = tries.filter((t) => t.outcome.kind === "answer" && t.outcome.ok);
    const retriable = tries.filter((t) => t.outcome.kind === "error" && t.outcome.retriable).length;
    const count = total(taskId);
    if (count < successes.length) problems.push(`${taskId}: ${successes.length} success(es) reported, ${count} stored (lost)`);
    if (count > successes.length + retriable) problems.push(`${taskId}: stored ${count}×, ${successes.length} success(es), ${retriable} retriable error(s) (duplicate behind the caller's back)`);
    for (const success of successes) {
      const named = success.outcome.kind === "answer" ? success.outcome.server : undefined;
      if (named === undefined) continue;
      const label = [...stored.keys()].find((l) => serverName(l) === named);
      if (label === undefined || (stored.get(label)?.get(taskId) ?? 0) === 0) problems.push(`${taskId}: success from ${named}, which has no record`);
    }
  }
  for (const counts of stored.values()) {
    for (const taskId of counts.keys()) if (!byTask.has(taskId)) problems.push(`${taskId}: stored but never sent`);
  }
  return problems;
}

/** Tallies outcomes as "entry request kind[/detail]" → count, for reports and assertions. */
export function tally(sent: readonly Sent[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const { entry, request, outcome } of sent) {
    const detail = outcome.kind === "answer" ? (outcome.ok ? "ok" : "denied") : outcome.kind === "error" ? (outcome.retriable ? "retriable" : "final") : "broken";
    const key = `${entry} ${request} ${detail}`;
    counts[key] = (counts[key] ?? 0) + 1;
  }
  return counts;
}
