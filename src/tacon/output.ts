/** Turns an API reply into tacon's output and exit status. */
import type { ApiMethod } from "../api/client";

export interface Outcome {
  exit: number;
  text: string;
  /** Service errors go to stderr; answers (granted or denied) to stdout. */
  toStderr: boolean;
}

const GRANTED = new Set([
  "AUTHENTICATION_STATUS_PASS",
  "ACCOUNTING_STATUS_SUCCESS",
  "AUTHORIZATION_STATUS_PASS_ADD",
  "AUTHORIZATION_STATUS_PASS_REPL",
  "SERVING",
]);
/** Upstream ERROR statuses are errors (exit 3), not denials. */
const ERRORS = new Set(["AUTHENTICATION_STATUS_ERROR", "ACCOUNTING_STATUS_ERROR", "AUTHORIZATION_STATUS_ERROR"]);

function shortStatus(status: string): string {
  return status.replace(/^(AUTHENTICATION|ACCOUNTING|AUTHORIZATION)_STATUS_/, "");
}

function exitFor(status: string): number {
  if (GRANTED.has(status)) return 0;
  return ERRORS.has(status) ? 3 : 1;
}

type Fields = Record<string, unknown>;

function describeArgs(args: unknown): string {
  if (!Array.isArray(args) || args.length === 0) return "";
  return args.map((a: Fields) => `\n  ${a.name}${a.mandatory ? "=" : "*"}${a.value}`).join("");
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)));
  return rows.map((row) => row.map((cell, column) => cell.padEnd(widths[column]!)).join("  ").trimEnd()).join("\n");
}

/** The failover state and each server's RFC 9105 counters. */
function humanStatus(reply: Fields): string {
  const servers = (reply.servers as Fields[]) ?? [];
  const state = String(reply.state).replace(/^FAILOVER_STATE_/, "");
  const active = servers[Number(reply.activeServer)]?.name ?? "-";
  const rows = [["#", "server", "connected", "single-connect", "in-flight", "sessions", "opens", "failures", "timeouts", "sent", "received", "errors"]];
  servers.forEach((server, index) => {
    const c = server.counters as Record<string, number>;
    rows.push([
      String(index),
      String(server.name),
      server.connected ? "yes" : "no",
      String(server.singleConnect).replace(/^SINGLE_CONNECT_SUPPORT_/, "").toLowerCase(),
      String(server.sessionsInFlight),
      ...["sessions", "connectionOpens", "connectionFailures", "connectionTimeouts", "messagesSent", "messagesReceived", "errorsReceived"].map((name) => String(c[name] ?? 0)),
    ]);
  });
  return `failover state: ${state} (new requests go to ${active})\n${table(rows)}\n${auditLine(reply.audit as Fields | undefined)}${spoolLine(reply.accountingSpool as Fields | undefined)}${proxyLine(reply.proxy as Fields | undefined)}`;
}

/** One line on command accounting: registered audit sessions and the audit plugin's counters. */
function auditLine(audit: Fields | undefined): string {
  if (audit === undefined || audit === null) return "";
  const sessions = `audit: ${audit.sessions} TACACS+ login sessions registered`;
  if (!audit.pluginReported) return `${sessions}; audit plugin: no report\n`;
  const p = (audit.plugin ?? {}) as Record<string, number>;
  return (
    `${sessions}; audit plugin (reported ${audit.pluginReportAgeSeconds} s ago): ${p.eventsRead ?? 0} events read, ${p.accounted ?? 0} accounted, ` +
    `${p.skipped ?? 0} skipped, ${p.dropped ?? 0} dropped, ${p.malformed ?? 0} malformed, ${p.failed ?? 0} failed\n`
  );
}

/** The proxy's connections and requests by type and outcome, when the agent hosts it. */
function proxyLine(proxy: Fields | undefined): string {
  if (!proxy) return "";
  const n = (fields: Fields | undefined, name: string) => Number(fields?.[name] ?? 0);
  const requests = ["authentication", "authorization", "accounting"].map((type) => {
    const c = proxy[type] as Fields | undefined;
    const outcomes = ["pass", "fail", "error", "timeout", "unavailable"].map((name) => `${n(c, name)} ${name}`).join(", ");
    return `${type} ${outcomes}${n(c, "inFlight") ? `, ${n(c, "inFlight")} in flight` : ""}`;
  });
  return `proxy: ${n(proxy, "connectionsAccepted")} connections (${n(proxy, "connectionsOpen")} open, ${n(proxy, "connectionsRefused")} refused); ${requests.join("; ")}\n`;
}

/** The accounting spool's depth, when the agent has one. */
function spoolLine(spool: Fields | undefined): string {
  if (!spool) return "";
  const n = (name: string) => Number(spool[name] ?? 0);
  const orphaned = n("orphanedRecords") > 0 ? `; orphaned ${n("orphanedRecords")} (collectors no longer configured, kept)` : "";
  return `accounting spool: ${n("records")} records, ${n("bytes")} of ${n("maxBytes")} bytes, oldest ${n("oldestAgeSeconds")} s; delivered ${n("delivered")}, refused (full) ${n("refusedFull")}${orphaned}\n`;
}

function human(method: ApiMethod, reply: Fields): string {
  if (method === "HealthCheck") return `${reply.status}\n`;
  if (method === "RegisterAuditSession") return "audit session registered\n";
  if (method === "UnregisterAuditSession") return reply.found ? "audit session unregistered\n" : "audit session was not registered\n";
  if (method === "Status") return humanStatus(reply);
  const response = reply.response as Fields;
  // The agent's spool took the record (no server answered): it is delivered later.
  if (response.queued) return `QUEUED: ${response.serverMessage}\n`;
  const status = shortStatus(String(response.status));
  const message = response.serverMessage ? `: ${response.serverMessage}` : "";
  return `${status} from ${response.server}${message}${describeArgs(response.args)}\n`;
}

export function renderReply(method: ApiMethod, reply: Fields, json: boolean): Outcome {
  if (reply.result === "error") {
    const error = reply.error as Fields;
    const text = json
      ? `${JSON.stringify({ error })}\n`
      : `tacon: ${error.message}${error.server ? ` (server ${error.server})` : ""}; ${error.retriable ? "retriable: try again" : "not retriable"}\n`;
    return { exit: 3, text, toStderr: true };
  }
  const status = String(method === "HealthCheck" ? reply.status : reply.response === undefined ? "SERVING" : (reply.response as Fields).status);
  const text = json ? `${JSON.stringify(reply, (_, value) => (value instanceof Uint8Array ? Buffer.from(value).toString("base64") : value))}\n` : human(method, reply);
  return { exit: exitFor(status), text, toStderr: false };
}
