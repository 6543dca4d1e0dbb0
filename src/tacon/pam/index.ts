/**
 * `tacon pam`: the program pam_exec(8) runs for each PAM phase (README "Host logins").
 *
 *   auth     required pam_exec.so expose_authtok quiet /usr/bin/tacon pam
 *   account  required pam_exec.so quiet /usr/bin/tacon pam service=shell protocol=ssh
 *   session  required pam_exec.so quiet /usr/bin/tacon pam
 *
 * pam_exec sends our stdout and stderr to /dev/null (unless given log= or stdout), so the one
 * line that says why a phase failed goes to syslog (/dev/log: the journal) and to stderr. A hard
 * timeout bounds every phase: the process exits then, whatever it waits for.
 */
import { ApiCallError, callUnaryDirect } from "../../api/client";
import { Facility, Severity, syslog } from "../../common/syslog";
import { currentAuditSessionOrNone } from "../audit-session";
import { AuthtokError, readAuthtok } from "./authtok";
import { pamContext, PamContextError, sessionTaskId, type PamContext } from "./context";
import { logSocketOf, parsePamOptions, PamOptionError, type PamOptions } from "./options";
import { PAM_EXIT, PHASES, type Outcome, type PhaseInput } from "./phases";

export { PAM_EXIT } from "./phases";

const TAG = "tacon-pam";

function report(logSocket: string, context: PamContext | undefined, outcome: Outcome): void {
  if (outcome.log === undefined) return;
  const where = context ? `${context.pamService || "?"} ${context.phase}: ` : "";
  const text = `${where}${outcome.log.text} (exit ${outcome.exit})`;
  process.stderr.write(`${TAG}: ${text}\n`);
  syslog(logSocket, Facility.authpriv, Severity[outcome.log.severity], TAG, text);
}

/** What the hard timeout means for the phase: fail closed, except best-effort accounting. */
function timedOut(context: PamContext, options: PamOptions): Outcome {
  const text = `no answer from the agent at ${"path" in options.endpoint ? options.endpoint.path : `${options.endpoint.host}:${options.endpoint.port}`} within timeout=${options.timeoutMs / 1000} s`;
  const bestEffort = (context.phase === "open_session" || context.phase === "close_session") && options.accounting === "best-effort";
  if (bestEffort) return { exit: PAM_EXIT.ok, log: { severity: "warning", text: `accounting skipped: ${text}; the session goes on (accounting=best-effort)` } };
  return { exit: PAM_EXIT.timeout, log: { severity: "err", text: `fail closed: ${text}` } };
}

function failure(error: unknown): Outcome | undefined {
  if (error instanceof ApiCallError) {
    const why = error.unreachable ? "the agent is unreachable" : `the agent refused the call (${error.codeName})`;
    return { exit: PAM_EXIT.unavailable, log: { severity: "err", text: `fail closed: ${why}: ${error.message}` } };
  }
  if (error instanceof AuthtokError || error instanceof PamContextError) return { exit: PAM_EXIT.usage, log: { severity: "err", text: error.message } };
  return undefined;
}

export async function runPam(words: string[], env: Record<string, string | undefined>): Promise<number> {
  let options: PamOptions;
  let context: PamContext;
  try {
    options = parsePamOptions(words);
    context = pamContext(env);
  } catch (error) {
    if (!(error instanceof PamOptionError || error instanceof PamContextError)) throw error;
    const what = error instanceof PamOptionError ? "bad option on the PAM line" : "bad PAM context";
    report(logSocketOf(words), undefined, { exit: PAM_EXIT.usage, log: { severity: "err", text: `${what}: ${error.message}` } });
    return PAM_EXIT.usage;
  }

  const hardTimeout = setTimeout(() => {
    const outcome = timedOut(context, options);
    report(options.logSocket, context, outcome);
    process.exit(outcome.exit);
  }, options.timeoutMs);

  let password: Buffer | undefined;
  const input: PhaseInput = {
    context,
    options,
    call: (method, request) => callUnaryDirect(options.endpoint, method, request, options.timeoutMs),
    readPassword: async () => (password = await readAuthtok()),
    taskId: () => sessionTaskId(process.ppid),
    now: () => Math.floor(Date.now() / 1000),
    auditSession: currentAuditSessionOrNone,
  };
  let outcome: Outcome;
  try {
    outcome = await PHASES[context.phase](input);
  } catch (error) {
    const known = failure(error);
    if (known === undefined) throw error;
    outcome = known;
  } finally {
    password?.fill(0);
    clearTimeout(hardTimeout);
  }
  report(options.logSocket, context, outcome);
  return outcome.exit;
}
