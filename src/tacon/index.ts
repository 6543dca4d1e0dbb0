/**
 * tacon: the command-line client of the agent's gRPC API.
 *
 *   tacon --service-endpoint /run/tacacs/tacacs.sock --user admin --port tty0 --rem-addr 10.0.0.1 \
 *     accounting "show version"
 *
 * Exit status: 0 PASS/SUCCESS, 1 FAIL/denied, 2 usage error, 3 agent unreachable or an error
 * (the message says whether a retry may help).
 */
import { defineCommand, parseArgs, renderUsage, type ArgsDef } from "citty";
import { colourAllowed, stripColour } from "../common/log-format";
import { ApiCallError, callUnaryDirect, type ApiMethod } from "../api/client";
import { parseEndpoint } from "../config/address";
import { ConfigError } from "../config/errors";
import { PasswordUnavailable, readPassword } from "./password";
import { currentAuditSession, NoAuditSession } from "./audit-session";
import { renderReply, type Outcome } from "./output";

export const EXIT = { ok: 0, denied: 1, usage: 2, error: 3 } as const;

/** The command line, shared with tacon(1) and its bash completion (scripts/packaging). */
export const ARGS = {
    "service-endpoint": { type: "string", valueHint: "ENDPOINT", description: "The agent's API socket (or loopback host:port)", default: "/run/tacacs/tacacs.sock" },
    user: { type: "string", description: "User name" },
    port: { type: "string", description: "TACACS+ port (e.g. tty0)", default: "" },
    "rem-addr": { type: "string", description: "Remote address of the user", default: "" },
    "privilege-level": { type: "string", description: "Privilege level 0-15", default: "1" },
    "authentication-context": { type: "string", valueHint: "pap|ascii|unauthenticated", description: "How the user authenticated, for authorization: pap, ascii or unauthenticated", default: "pap" },
    "record-type": { type: "string", valueHint: "start|stop|watchdog", description: "Accounting record: start, stop or watchdog", default: "stop" },
    "task-id": { type: "string", description: "Accounting task_id" },
    "password-stdin": { type: "boolean", description: "Read the password from the first line of stdin (else TACON_PASSWORD, else a prompt)" },
    "timeout-seconds": { type: "string", description: "How long to wait for the agent", default: "10" },
    json: { type: "boolean", description: "Print the reply as JSON" },
    help: { type: "boolean", alias: "h", description: "Show this help" },
} as const satisfies ArgsDef;

/** The commands, with their operands and what each asks the agent. */
export const COMMANDS: readonly (readonly [string, string, string])[] = [
  ["accounting", "CMD [ARGS...]", "Send an accounting record of a command (--record-type, --task-id)"],
  ["authorization", "CMD [ARGS...]", "Ask whether --user may run a command (service=shell)"],
  ["authentication", "", "Check --user's password (PAP); the password comes from --password-stdin, TACON_PASSWORD or a prompt"],
  ["audit-session", "register|unregister", "As root: register or unregister this login's audit session, for command accounting"],
  ["health", "[readiness|liveness|startup]", "Exit 0 when the agent is ready (a responsive upstream server), else 1; liveness: the agent answers; startup: warm-up done"],
  ["status", "", "Print the agent's upstream servers, failover state and counters"],
  [
    "pam",
    "[NAME=VALUE...]",
    "Run by pam_exec(8) for each phase of a host login (PAM_TYPE auth, account, open_session, close_session; README \"Host logins\"), with name=value options instead of the flags above: service-endpoint=, login=pap|ascii, service=, protocol=, privilege-level=, timeout= (seconds, a hard bound), accounting=best-effort|required, log-socket=. Fails closed; exit 1 denied, 2 bad option or PAM context, 3 agent or upstream unavailable, 4 timeout",
  ],
];

/** grpc.health.v1 names the agent serves besides "" (readiness), see api/health.ts. */
const HEALTH_PROBES = ["", "readiness", "liveness", "startup"];

export const SUMMARY = "Ask the TACACS+ agent to authenticate, authorize or account.";

const command = defineCommand({
  meta: { name: "tacon", description: `${SUMMARY} Commands: ${COMMANDS.map(([name, operands]) => `${name}${operands ? ` ${operands}` : ""}`).join(", ")}` },
  args: ARGS,
});

type Args = ReturnType<typeof parseArgs>;

class UsageError extends Error {}

function integerIn(text: string, min: number, max: number, flag: string): number {
  const value = Number(text);
  if (!/^\d+$/.test(text) || value < min || value > max) throw new UsageError(`--${flag}: expected a whole number from ${min} to ${max}, got "${text}"`);
  return value;
}

function requireUser(args: Args): string {
  const user = args.user;
  if (typeof user !== "string" || user === "") throw new UsageError("--user is required for this command");
  return user;
}

/** "show version" as one argument is a command and its arguments, as an operator typed them. */
function commandWords(positionals: string[]): [string, string[]] {
  const words = positionals.length === 1 ? positionals[0]!.trim().split(/\s+/) : positionals;
  const [cmd, ...rest] = words;
  if (!cmd) throw new UsageError("a command is required, e.g. accounting \"show version\"");
  return [cmd, rest];
}

const AUTHENTICATION_CONTEXTS: Record<string, string> = {
  pap: "AUTHORIZATION_AUTHENTICATION_CONTEXT_TACACS_PAP",
  ascii: "AUTHORIZATION_AUTHENTICATION_CONTEXT_TACACS_ASCII",
  unauthenticated: "AUTHORIZATION_AUTHENTICATION_CONTEXT_UNAUTHENTICATED",
};

const RECORD_TYPES: Record<string, string> = {
  start: "ACCOUNTING_RECORD_TYPE_START",
  stop: "ACCOUNTING_RECORD_TYPE_STOP",
  watchdog: "ACCOUNTING_RECORD_TYPE_WATCHDOG",
};

async function buildCall(verb: string, positionals: string[], args: Args, env: Record<string, string | undefined>): Promise<[ApiMethod, object]> {
  const privilegeLevel = integerIn(String(args["privilege-level"]), 0, 15, "privilege-level");
  const common = { port: String(args.port), remoteAddress: String(args["rem-addr"]) };
  switch (verb) {
    case "accounting": {
      const [cmd, commandArguments] = commandWords(positionals);
      const recordType = RECORD_TYPES[String(args["record-type"])];
      if (!recordType) throw new UsageError(`--record-type: expected start, stop or watchdog, got "${args["record-type"]}"`);
      const taskId = args["task-id"] === undefined ? {} : { taskId: String(args["task-id"]) };
      return ["Accounting", { user: requireUser(args), ...common, command: cmd, commandArguments, recordType, privilegeLevel, ...taskId }];
    }
    case "authorization": {
      const [cmd, commandArguments] = commandWords(positionals);
      const argList = [
        { name: "service", value: "shell", mandatory: true },
        { name: "cmd", value: cmd, mandatory: true },
        ...commandArguments.map((value) => ({ name: "cmd-arg", value, mandatory: true })),
      ];
      const authenticationContext = AUTHENTICATION_CONTEXTS[String(args["authentication-context"])];
      if (!authenticationContext) throw new UsageError(`--authentication-context: expected pap, ascii or unauthenticated, got "${args["authentication-context"]}"`);
      return ["Authorization", { user: requireUser(args), ...common, privilegeLevel, args: argList, authenticationContext }];
    }
    case "authentication": {
      if (positionals.length) throw new UsageError("authentication takes no arguments: the password is read from TACON_PASSWORD, stdin or a prompt");
      const user = requireUser(args);
      const password = await readPassword(Boolean(args["password-stdin"]), env);
      return ["AuthenticatePap", { user, password: new TextEncoder().encode(password), ...common, privilegeLevel }];
    }
    case "audit-session": {
      const [action, ...rest] = positionals;
      if (rest.length > 0 || (action !== "register" && action !== "unregister")) throw new UsageError("audit-session takes one argument: register or unregister");
      const { sessionId, loginUid } = currentAuditSession();
      if (action === "unregister") return ["UnregisterAuditSession", { sessionId }];
      const taskBase = args["task-id"] === undefined ? {} : { taskBase: String(args["task-id"]) };
      return ["RegisterAuditSession", { session: { sessionId, loginUid, user: requireUser(args), ...common, privilegeLevel, ...taskBase } }];
    }
    case "health": {
      const [probe = "", ...rest] = positionals;
      if (rest.length > 0 || !HEALTH_PROBES.includes(probe)) throw new UsageError("health takes at most one argument: readiness, liveness or startup");
      return ["HealthCheck", { service: probe }];
    }
    case "status":
      return ["Status", {}];
    default:
      throw new UsageError(verb ? `unknown command "${verb}"` : "a command is required: accounting, authorization, authentication, health or status");
  }
}

export async function runTacon(argv: string[], env: Record<string, string | undefined>): Promise<number> {
  let args: Args;
  try {
    args = parseArgs(argv, ARGS);
  } catch (error) {
    process.stderr.write(`tacon: ${(error as Error).message}\n`);
    return EXIT.usage;
  }
  if (args.help) {
    const usage = await renderUsage(command);
    process.stdout.write(`${colourAllowed(process.stdout, env) ? usage : stripColour(usage)}\n`);
    return EXIT.ok;
  }
  const [verb = "", ...positionals] = args._.map(String);
  let outcome: Outcome;
  try {
    const endpoint = parseEndpoint(String(args["service-endpoint"]), "--service-endpoint");
    const timeoutMs = integerIn(String(args["timeout-seconds"]), 1, 3600, "timeout-seconds") * 1000;
    const [method, request] = await buildCall(verb, positionals, args, env);
    outcome = renderReply(method, await callUnaryDirect(endpoint, method, request, timeoutMs), Boolean(args.json));
  } catch (error) {
    if (error instanceof UsageError || error instanceof ConfigError || error instanceof PasswordUnavailable || error instanceof NoAuditSession) {
      process.stderr.write(`tacon: ${error.message}\n`);
      return EXIT.usage;
    }
    if (error instanceof ApiCallError) {
      const retriable = error.unreachable || error.code === 14 /* UNAVAILABLE */ || error.code === 4; /* DEADLINE_EXCEEDED */
      const text = `tacon: ${error.message} (${error.codeName}; ${retriable ? "retriable" : "not retriable"})`;
      process.stderr.write(args.json ? `${JSON.stringify({ error: error.message, code: error.codeName, retriable })}\n` : `${text}\n`);
      return EXIT.error;
    }
    throw error;
  }
  (outcome.toStderr ? process.stderr : process.stdout).write(outcome.text);
  return outcome.exit;
}
