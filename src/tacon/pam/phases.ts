/**
 * One function per PAM phase: the agent call it makes and what its reply means for the login.
 * Each returns an Outcome (exit status for pam_exec, and the log line when there is something to
 * say); transport failures are thrown as ApiCallError and handled once by the caller (index.ts).
 *
 *   auth           AuthenticatePap (or AuthenticateAsciiLogin with login=ascii)   PASS → 0, FAIL → denied
 *   account        Authorization service=<service> protocol=<protocol> cmd=      PASS_ADD/PASS_REPL → 0
 *   open_session   Accounting START, task_id, start_time                          failures: logged, 0
 *   close_session  Accounting STOP, same task_id, stop_time                       (accounting=required: fail)
 *
 * The session phases also register the login's audit session with the agent (and remove it),
 * for the audit plugin's command accounting (README "Command accounting"); that never blocks.
 */
import type { ApiMethod } from "../../api/client";
import { registerLogin, unregisterLogin, type AuditSessionIds } from "../audit-session";
import type { PamContext } from "./context";
import type { PamOptions } from "./options";

/** pam_exec turns every non-zero status into PAM_SYSTEM_ERR; the values tell the operator why ("exit code N" in its log). */
export const PAM_EXIT = {
  ok: 0,
  /** The TACACS+ server said no (authentication FAIL, authorization FAIL). */
  denied: 1,
  /** Bad options on the PAM line, or a PAM context tacon pam cannot use. */
  usage: 2,
  /** Fail closed: the agent unreachable, no upstream server answered, or a server ERROR. */
  unavailable: 3,
  /** Fail closed: the phase's hard timeout passed. */
  timeout: 4,
} as const;
export type PamExit = (typeof PAM_EXIT)[keyof typeof PAM_EXIT];

export interface Outcome {
  exit: PamExit;
  /** What the journal should say; undefined: nothing worth a line (a plain success). */
  log?: { severity: "err" | "warning" | "notice"; text: string };
}

/** One unary call to the agent (api/client.ts callUnaryDirect with the endpoint and timeout bound). */
export type AgentCall = (method: ApiMethod, request: object) => Promise<Record<string, unknown>>;

export interface PhaseInput {
  context: PamContext;
  options: PamOptions;
  call: AgentCall;
  /** The password from pam_exec (auth only); the phase never keeps or logs it, the caller wipes it. */
  readPassword: () => Promise<Buffer>;
  /** The accounting task_id of this login session (session phases only). */
  taskId: () => string;
  /** Seconds since the epoch. */
  now: () => number;
  /** This process's audit session (/proc/self), undefined without one (no pam_loginuid). */
  auditSession: () => AuditSessionIds | undefined;
}

type Fields = Record<string, unknown>;

const granted = (): Outcome => ({ exit: PAM_EXIT.ok });

/** The agent's ServiceError (no upstream answered, or one broke the protocol): fail closed. */
function serviceError(reply: Fields): Outcome | undefined {
  if (reply.result !== "error") return undefined;
  const error = reply.error as Fields;
  return { exit: PAM_EXIT.unavailable, log: { severity: "err", text: `fail closed: the agent found no TACACS+ server to answer: ${error.message}` } };
}

function response(reply: Fields): { status: string; server: string; message: string } {
  const r = reply.response as Fields;
  const status = String(r.status).replace(/^(AUTHENTICATION|AUTHORIZATION|ACCOUNTING)_STATUS_/, "");
  return { status, server: String(r.server), message: r.serverMessage ? ` (${String(r.serverMessage)})` : "" };
}

const who = (context: PamContext) => `user ${JSON.stringify(context.user)}${context.remoteAddress ? ` from ${context.remoteAddress}` : ""}`;

export async function authenticate({ context, options, call, readPassword }: PhaseInput): Promise<Outcome> {
  const password = await readPassword();
  const method: ApiMethod = options.login === "ascii" ? "AuthenticateAsciiLogin" : "AuthenticatePap";
  const reply = await call(method, { user: context.user, password, port: context.port, remoteAddress: context.remoteAddress, privilegeLevel: options.privilegeLevel });
  const failed = serviceError(reply);
  if (failed) return failed;
  const { status, server, message } = response(reply);
  if (status === "PASS") return granted();
  if (status === "FAIL") return { exit: PAM_EXIT.denied, log: { severity: "notice", text: `authentication failed for ${who(context)}: ${server} answered FAIL${message}` } };
  return { exit: PAM_EXIT.unavailable, log: { severity: "err", text: `fail closed: authentication of ${who(context)}: ${server} answered ${status}${message}` } };
}

export async function account({ context, options, call }: PhaseInput): Promise<Outcome> {
  const args = [{ name: "service", value: options.service, mandatory: true }];
  if (options.protocol !== "") args.push({ name: "protocol", value: options.protocol, mandatory: true });
  // RFC 8907 §8.2: service=shell needs a cmd; an empty one asks for the shell itself (as pam_tacplus does).
  if (options.service === "shell") args.push({ name: "cmd", value: "", mandatory: true });
  const authenticationContext = options.login === "ascii" ? "AUTHORIZATION_AUTHENTICATION_CONTEXT_TACACS_ASCII" : "AUTHORIZATION_AUTHENTICATION_CONTEXT_TACACS_PAP";
  const reply = await call("Authorization", { user: context.user, port: context.port, remoteAddress: context.remoteAddress, privilegeLevel: options.privilegeLevel, args, authenticationContext });
  const failed = serviceError(reply);
  if (failed) return failed;
  const { status, server, message } = response(reply);
  if (status === "PASS_ADD" || status === "PASS_REPL") return granted();
  const severity = status === "FAIL" ? "notice" : "err";
  const exit = status === "FAIL" ? PAM_EXIT.denied : PAM_EXIT.unavailable;
  return { exit, log: { severity, text: `authorization of service=${options.service} denied for ${who(context)}: ${server} answered ${status}${message}` } };
}

/** START or STOP of the login session's accounting record; a failure blocks nothing unless accounting=required. */
async function sessionRecord({ context, options, call, taskId, now }: PhaseInput, record: "start" | "stop"): Promise<Outcome> {
  const time = record === "start" ? { startTime: now() } : { stopTime: now() };
  const request = {
    user: context.user,
    port: context.port,
    remoteAddress: context.remoteAddress,
    privilegeLevel: options.privilegeLevel,
    service: options.service,
    protocol: options.protocol,
    recordType: record === "start" ? "ACCOUNTING_RECORD_TYPE_START" : "ACCOUNTING_RECORD_TYPE_STOP",
    taskId: taskId(),
    ...time,
  };
  let problem: string;
  try {
    const reply = await call("Accounting", request);
    const failed = serviceError(reply);
    if (failed === undefined) {
      const { status, server, message } = response(reply);
      if (status === "SUCCESS") return granted();
      problem = `${server} answered ${status}${message}`;
    } else problem = failed.log!.text;
  } catch (error) {
    if (options.accounting === "required") throw error;
    problem = (error as Error).message;
  }
  const text = `accounting ${record.toUpperCase()} of ${who(context)} (task_id ${request.taskId}) failed: ${problem}`;
  if (options.accounting === "required") return { exit: PAM_EXIT.unavailable, log: { severity: "err", text: `fail closed (accounting=required): ${text}` } };
  return { exit: PAM_EXIT.ok, log: { severity: "warning", text: `${text}; the session goes on (accounting=best-effort)` } };
}

/** The outcome, with a command-accounting problem added to its log line (as a warning when it had none). */
function withNote(outcome: Outcome, problem: string | undefined): Outcome {
  if (problem === undefined) return outcome;
  if (outcome.log === undefined) return { exit: outcome.exit, log: { severity: "warning", text: problem } };
  return { exit: outcome.exit, log: { severity: outcome.log.severity, text: `${outcome.log.text}; ${problem}` } };
}

export async function openSession(input: PhaseInput): Promise<Outcome> {
  const outcome = await sessionRecord(input, "start");
  const { context, options } = input;
  const login = { user: context.user, port: context.port, remoteAddress: context.remoteAddress, privilegeLevel: options.privilegeLevel, taskBase: input.taskId() };
  return withNote(outcome, await registerLogin(input.call, input.auditSession(), login));
}

export async function closeSession(input: PhaseInput): Promise<Outcome> {
  const outcome = await sessionRecord(input, "stop");
  return withNote(outcome, await unregisterLogin(input.call, input.auditSession(), input.taskId()));
}

export const PHASES = { auth: authenticate, account, open_session: openSession, close_session: closeSession } as const;
