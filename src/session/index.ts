/**
 * tacacs-session: the multi-call binary as a session supervisor. Every program started in the
 * session is authorized by the TACACS+ server through the agent before it runs, and accounted
 * (START, STOP with exit status and elapsed time). See README "Command authorization".
 *
 *   chsh -s /usr/bin/tacacs-session alice       # login shell; settings in /etc/tacacsrs-agentd/session.conf
 *   tacacs-session --shell /bin/bash -c 'id; ls /'
 *
 * Exit status: the shell's; 2 usage error; 126 the session could not be supervised (nothing ran).
 */
import { realpathSync } from "node:fs";
import { DirectApiClient } from "../api/client";
import { currentAbi } from "./abi";
import { parseSessionArgs, SessionUsageError, sessionUsage, type SessionOptions } from "./options";
import { originalNofile, remoteAddress, sessionPort, systemAccount, type Account } from "./identity";
import type { LaunchSpec } from "./launcher";
import { supervise, SupervisorError } from "./supervisor";

const NOT_SUPERVISED = 126;

/** What the launcher execs: the shell (login shells get "-name" as argv[0], as from sshd and login), or a program found in PATH. */
function shellArgv(options: SessionOptions, loginShell: boolean, path: string): { path: string; argv: string[] } {
  const name = options.shell.slice(options.shell.lastIndexOf("/") + 1);
  switch (options.run.kind) {
    case "shell":
      return { path: options.shell, argv: [loginShell ? `-${name}` : name] };
    case "command":
      return { path: options.shell, argv: [name, "-c", options.run.command, ...options.run.rest] };
    case "program": {
      const [program, ...rest] = options.run.argv as [string, ...string[]];
      return { path: Bun.which(program, { PATH: path }) ?? program, argv: [program, ...rest] };
    }
  }
}

/** The environment of the session: ours, with SHELL naming the real shell. */
function sessionEnv(env: Record<string, string | undefined>, shell: string, account: Account | undefined): string[] {
  const result: Record<string, string> = {};
  for (const [key, value] of Object.entries(env)) if (value !== undefined) result[key] = value;
  result.SHELL = shell;
  if (account !== undefined) {
    result.USER = result.LOGNAME = account.name;
    result.HOME = account.home;
  }
  return Object.entries(result).map(([key, value]) => `${key}=${value}`);
}

function resolvedPath(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    return path;
  }
}

export async function runSession(argv: string[], env: Record<string, string | undefined>, loginShell: boolean): Promise<number> {
  let options: SessionOptions;
  try {
    options = parseSessionArgs(argv);
  } catch (error) {
    process.stderr.write(`tacacs-session: ${(error as Error).message}\n`);
    return 2;
  }
  if (options.help) {
    process.stdout.write(`${await sessionUsage()}\n`);
    return 0;
  }
  if (currentAbi() === undefined) {
    process.stderr.write(`tacacs-session: command authorization is not supported on ${process.arch}\n`);
    return NOT_SUPERVISED;
  }
  const root = process.geteuid?.() === 0;
  const runAs = options.runAs === undefined ? undefined : systemAccount(options.runAs);
  if (options.runAs !== undefined && (runAs === undefined || !root)) {
    process.stderr.write(`tacacs-session: --run-as ${options.runAs}: ${runAs === undefined ? "no such account" : "needs the supervisor to run as root"}\n`);
    return 2;
  }
  const account = runAs ?? systemAccount(process.getuid?.() ?? -1);
  const user = options.user ?? account?.name;
  if (user === undefined) {
    process.stderr.write("tacacs-session: cannot tell the session's user: give --user\n");
    return 2;
  }
  // Under sshd's ForceCommand the user's command line is in SSH_ORIGINAL_COMMAND.
  if (options.run.kind === "shell" && !loginShell && env.SSH_ORIGINAL_COMMAND) options.run = { kind: "command", command: env.SSH_ORIGINAL_COMMAND, rest: [] };
  const { path, argv: shellArgs } = shellArgv(options, loginShell, env.PATH ?? "/usr/bin:/bin");
  const spec: LaunchSpec = {
    path,
    argv: shellArgs,
    env: sessionEnv(env, options.shell, runAs),
    nofileSoft: originalNofile(),
    // Root can install the filter without no_new_privs, so sudo and su keep working in the session.
    noNewPrivs: !root,
    ...(runAs ? { user: { name: runAs.name, uid: runAs.uid, gid: runAs.gid } } : {}),
  };
  const api = new DirectApiClient(options.endpoint);
  try {
    return await supervise({
      spec,
      shellPath: resolvedPath(options.shell),
      identity: {
        user,
        port: sessionPort(env),
        remoteAddress: remoteAddress(env),
        privilegeLevel: options.privilegeLevel,
        authenticationContext: options.authenticationContext,
      },
      api,
      allowlist: new Set(options.allowlist),
      failurePolicy: options.failurePolicy,
      decisionTimeoutMs: options.decisionTimeoutMs,
      cacheTtlMs: options.cacheTtlMs,
      cacheMaxEntries: options.cacheMaxEntries,
      accounting: options.accounting,
      say: (line) => process.stderr.write(`${line}\n`),
    });
  } catch (error) {
    if (!(error instanceof SupervisorError)) throw error;
    process.stderr.write(`tacacs-session: ${error.message}\n`);
    return NOT_SUPERVISED;
  } finally {
    api.close();
  }
}
