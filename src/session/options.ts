/**
 * The command line of `tacacs-session` (pure apart from reading the config file).
 *
 * As a login shell it gets no flags of its own (sshd runs `-tacacs-session`, or
 * `tacacs-session -c 'COMMAND'` for a remote command), so the operator's settings come from a
 * root-owned file, /etc/tacacsrs-agentd/session.conf by default: flags, one or more a line, `#`
 * comments. Flags on the command line come after the file's and win. Environment variables are
 * not read for settings: a user could set them (e.g. through ~/.ssh/environment).
 *
 *   tacacs-session [FLAGS] [-c COMMAND | -- PROGRAM ARGS...]
 */
import { parseArgs, renderUsage, defineCommand, type ArgsDef } from "citty";
import { readFileSync } from "node:fs";
import type { Endpoint } from "../common/endpoint";
import { parseEndpoint } from "../config/address";
import type { FailurePolicy } from "./authorizer";

export const DEFAULT_CONFIG_FILE = "/etc/tacacsrs-agentd/session.conf";

export const SESSION_ARGS = {
  "service-endpoint": { type: "string", description: "The agent's API socket (or loopback host:port)", default: "/run/tacacs/tacacs.sock" },
  shell: { type: "string", description: "The user's real shell, run under supervision", default: "/bin/bash" },
  user: { type: "string", description: "TACACS+ user name (default: the account name of the session's uid)" },
  "run-as": { type: "string", description: "When started as root (PAM/wrapper): drop to this account before running the shell" },
  "privilege-level": { type: "string", description: "priv-lvl of the requests, 0-15", default: "1" },
  "authentication-context": { type: "string", description: "How the user authenticated: pap, ascii or unauthenticated", default: "pap" },
  "fail-policy": { type: "string", description: "When the agent or every server is unreachable: closed (deny) or open (allow)", default: "closed" },
  "decision-timeout-seconds": { type: "string", description: "Longest wait for one authorization (then the fail policy applies)", default: "5" },
  "cache-seconds": { type: "string", description: "How long the server's answer for one command line is reused in this session (0: never)", default: "60" },
  "cache-max-entries": { type: "string", description: "Command lines remembered per session", default: "1024" },
  allow: { type: "string", description: "Comma-separated absolute paths run without asking the server and without accounting (shell plumbing)", default: "" },
  accounting: { type: "boolean", description: "Send START/STOP accounting per command (--no-accounting to disable)", default: true },
  config: { type: "string", description: "Settings file (flags, # comments)", default: DEFAULT_CONFIG_FILE },
  help: { type: "boolean", alias: "h", description: "Show this help" },
} as const satisfies ArgsDef;

export interface SessionOptions {
  endpoint: Endpoint;
  shell: string;
  user: string | undefined;
  runAs: string | undefined;
  privilegeLevel: number;
  authenticationContext: string;
  failurePolicy: FailurePolicy;
  decisionTimeoutMs: number;
  cacheTtlMs: number;
  cacheMaxEntries: number;
  allowlist: string[];
  accounting: boolean;
  /** What the shell runs: an interactive shell, `-c COMMAND`, or a program and its arguments. */
  run: { kind: "shell" } | { kind: "command"; command: string; rest: string[] } | { kind: "program"; argv: string[] };
  help: boolean;
}

export class SessionUsageError extends Error {}

const AUTHENTICATION_CONTEXTS: Record<string, string> = {
  pap: "AUTHORIZATION_AUTHENTICATION_CONTEXT_TACACS_PAP",
  ascii: "AUTHORIZATION_AUTHENTICATION_CONTEXT_TACACS_ASCII",
  unauthenticated: "AUTHORIZATION_AUTHENTICATION_CONTEXT_UNAUTHENTICATED",
};

function wholeNumber(text: unknown, flag: string, min: number, max: number): number {
  const value = Number(text);
  if (typeof text !== "string" || !/^\d+$/.test(text) || value < min || value > max) throw new SessionUsageError(`--${flag}: expected a whole number from ${min} to ${max}, got "${text}"`);
  return value;
}

/** The flags of a settings file: whitespace-separated words, `#` to the end of a line is a comment. */
export function configWords(text: string): string[] {
  return text.split("\n").flatMap((line) => line.replace(/#.*/, "").trim().split(/\s+/).filter(Boolean));
}

/** The settings file's flags, or none when the default file does not exist. */
function readConfig(path: string, explicit: boolean): string[] {
  try {
    return configWords(readFileSync(path, "utf8"));
  } catch (error) {
    if (!explicit && (error as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw new SessionUsageError(`--config ${path}: ${(error as Error).message}`);
  }
}

/** Splits argv at `-c` (login-shell style) or `--` (a program to run). */
function splitRun(argv: readonly string[]): { flags: string[]; run: SessionOptions["run"] } {
  const dashC = argv.indexOf("-c");
  const dashDash = argv.indexOf("--");
  if (dashC >= 0 && (dashDash < 0 || dashC < dashDash)) {
    const [command, ...rest] = argv.slice(dashC + 1);
    if (command === undefined) throw new SessionUsageError("-c needs a command");
    return { flags: argv.slice(0, dashC), run: { kind: "command", command, rest } };
  }
  if (dashDash >= 0) {
    const program = argv.slice(dashDash + 1);
    if (program.length === 0) throw new SessionUsageError("-- needs a program to run");
    return { flags: argv.slice(0, dashDash), run: { kind: "program", argv: program } };
  }
  return { flags: [...argv], run: { kind: "shell" } };
}

export function parseSessionArgs(argv: readonly string[], readFile: typeof readConfig = readConfig): SessionOptions {
  const { flags, run } = splitRun(argv);
  const cli = parseArgs(flags, SESSION_ARGS);
  const configPath = String(cli.config);
  const args = parseArgs([...readFile(configPath, flags.some((f) => f === "--config" || f.startsWith("--config="))), ...flags], SESSION_ARGS);
  const positional = args._.map(String);
  if (positional.length > 0) throw new SessionUsageError(`unexpected argument "${positional[0]}" (a command goes after -c or --)`);
  const failurePolicy = String(args["fail-policy"]);
  if (failurePolicy !== "closed" && failurePolicy !== "open") throw new SessionUsageError(`--fail-policy: expected closed or open, got "${failurePolicy}"`);
  const authenticationContext = AUTHENTICATION_CONTEXTS[String(args["authentication-context"])];
  if (!authenticationContext) throw new SessionUsageError(`--authentication-context: expected pap, ascii or unauthenticated, got "${args["authentication-context"]}"`);
  const allowlist = String(args.allow).split(",").filter(Boolean);
  for (const path of allowlist) if (!path.startsWith("/")) throw new SessionUsageError(`--allow: "${path}" is not an absolute path`);
  const shell = String(args.shell);
  if (!shell.startsWith("/")) throw new SessionUsageError(`--shell: "${shell}" is not an absolute path`);
  let endpoint: Endpoint;
  try {
    endpoint = parseEndpoint(String(args["service-endpoint"]), "--service-endpoint");
  } catch (error) {
    throw new SessionUsageError((error as Error).message);
  }
  return {
    endpoint,
    shell,
    user: typeof args.user === "string" && args.user !== "" ? args.user : undefined,
    runAs: typeof args["run-as"] === "string" && args["run-as"] !== "" ? args["run-as"] : undefined,
    privilegeLevel: wholeNumber(args["privilege-level"], "privilege-level", 0, 15),
    authenticationContext,
    failurePolicy,
    decisionTimeoutMs: wholeNumber(args["decision-timeout-seconds"], "decision-timeout-seconds", 1, 300) * 1000,
    cacheTtlMs: wholeNumber(args["cache-seconds"], "cache-seconds", 0, 86_400) * 1000,
    cacheMaxEntries: wholeNumber(args["cache-max-entries"], "cache-max-entries", 1, 1_000_000),
    allowlist,
    accounting: args.accounting !== false,
    run,
    help: args.help === true,
  };
}

export async function sessionUsage(): Promise<string> {
  const command = defineCommand({
    meta: { name: "tacacs-session", description: "Run a login shell whose every command is authorized and accounted by TACACS+ through the agent. Usage: tacacs-session [FLAGS] [-c COMMAND | -- PROGRAM ARGS...]" },
    args: SESSION_ARGS,
  });
  return renderUsage(command);
}
