import { expect, test } from "bun:test";
import type { AuditSessionIds } from "../audit-session";
import { parsePamOptions } from "./options";
import { closeSession, openSession, type PhaseInput } from "./phases";

const SUCCESS = { result: "response", response: { status: "ACCOUNTING_STATUS_SUCCESS", server: "s1" } };

function input(auditSession: AuditSessionIds | undefined, register: () => Record<string, unknown> = () => ({})) {
  const calls: [string, Record<string, unknown>][] = [];
  const phaseInput: PhaseInput = {
    context: { phase: "open_session", user: "alice", pamService: "sshd", port: "pts/3", remoteAddress: "192.0.2.7", remoteUser: "" },
    options: { ...parsePamOptions([]), privilegeLevel: 15 },
    call: async (method, request) => {
      calls.push([method, request as Record<string, unknown>]);
      return method === "Accounting" ? SUCCESS : register();
    },
    readPassword: async () => Buffer.alloc(0),
    taskId: () => "b00t-100-200",
    now: () => 1_700_000_000,
    auditSession: () => auditSession,
  };
  return { calls, phaseInput };
}

test("open_session: the START record, then the login's audit session registered with its task_id as task base", async () => {
  const { calls, phaseInput } = input({ sessionId: 42, loginUid: 1000 });
  expect(await openSession(phaseInput)).toEqual({ exit: 0 });
  expect(calls.map(([method]) => method)).toEqual(["Accounting", "RegisterAuditSession"]);
  expect(calls[1]![1]).toEqual({ session: { sessionId: 42, loginUid: 1000, user: "alice", port: "pts/3", remoteAddress: "192.0.2.7", privilegeLevel: 15, taskBase: "b00t-100-200" } });
});

test("close_session: the STOP record, then this login's registration removed", async () => {
  const { calls, phaseInput } = input({ sessionId: 42, loginUid: 1000 });
  expect(await closeSession(phaseInput)).toEqual({ exit: 0 });
  expect(calls.map(([method]) => method)).toEqual(["Accounting", "UnregisterAuditSession"]);
  expect(calls[1]![1]).toEqual({ sessionId: 42, taskBase: "b00t-100-200" });
});

test("without an audit session nothing is registered; a refused registration is a warning, the login goes on", async () => {
  const none = input(undefined);
  expect(await openSession(none.phaseInput)).toEqual({ exit: 0 });
  expect(none.calls.map(([method]) => method)).toEqual(["Accounting"]);
  const refused = input({ sessionId: 42, loginUid: 1000 }, () => {
    throw Object.assign(new Error("registering an audit session needs root (the caller runs as uid 1000)"), { code: 7 });
  });
  const outcome = await openSession(refused.phaseInput);
  expect(outcome.exit).toBe(0);
  expect(outcome.log).toEqual({ severity: "warning", text: "command accounting: audit session 42 not registered: registering an audit session needs root (the caller runs as uid 1000)" });
});
