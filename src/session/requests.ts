/**
 * A held exec → the agent's AuthorizationRequest and AccountingRequest (pure), the path and
 * arguments within TACACS+ limits (protocol/command-args.ts: cut with a marker, "[N more arguments]").
 */
import { fitCommand, fitCommandArguments } from "../protocol/command-args";
import type { ExecTarget } from "./exec-target";

/** Authorization: service and cmd besides the cmd-args. */
const AUTHORIZATION_OTHER_ARGS = 2;
/** Accounting: service, cmd, task_id, start_time, stop_time, elapsed_time, status. */
const ACCOUNTING_OTHER_ARGS = 7;

const encoder = new TextEncoder();

/** Who runs the session's commands: the fields every request of the session carries. */
export interface SessionIdentity {
  user: string;
  /** The session's tty ("pts/3"), or "" without one. */
  port: string;
  /** The SSH client's address, or "" when unknown. */
  remoteAddress: string;
  privilegeLevel: number;
  /** The AuthorizationAuthenticationContext name, e.g. AUTHORIZATION_AUTHENTICATION_CONTEXT_TACACS_PAP. */
  authenticationContext: string;
}

/** cmd and cmd-args within TACACS+ limits. */
export function commandWords(target: ExecTarget, otherArgs: number): { cmd: string; cmdArgs: string[] } {
  const path = encoder.encode(target.path);
  return { cmd: fitCommand({ bytes: path, length: path.length }), cmdArgs: fitCommandArguments(target.args, target.argc, otherArgs) };
}

/** RFC 8907 §8.2: service=shell, cmd=<absolute path>, one cmd-arg=<argument> each. */
export function authorizationRequest(session: SessionIdentity, target: ExecTarget): Record<string, unknown> {
  const { cmd, cmdArgs } = commandWords(target, AUTHORIZATION_OTHER_ARGS);
  return {
    user: session.user,
    port: session.port,
    remoteAddress: session.remoteAddress,
    privilegeLevel: session.privilegeLevel,
    authenticationContext: session.authenticationContext,
    args: [
      { name: "service", value: "shell", mandatory: true },
      { name: "cmd", value: cmd, mandatory: true },
      ...cmdArgs.map((value) => ({ name: "cmd-arg", value, mandatory: true })),
    ],
  };
}

/** What a STOP record adds: when the command ended, how long it ran, its exit status if known. */
export interface CommandEnd {
  stopTimeMs: number;
  elapsedMs: number;
  /** Exit status as a shell reports it (128+N for signal N), when known. */
  status: number | undefined;
}

/** RFC 8907 §7.2, §8.3: START before the command runs, STOP with elapsed_time and status after. */
export function accountingRequest(session: SessionIdentity, target: ExecTarget, taskId: string, startTimeMs: number, end?: CommandEnd): Record<string, unknown> {
  const { cmd, cmdArgs } = commandWords(target, ACCOUNTING_OTHER_ARGS);
  const request: Record<string, unknown> = {
    user: session.user,
    port: session.port,
    remoteAddress: session.remoteAddress,
    privilegeLevel: session.privilegeLevel,
    command: cmd,
    commandArguments: cmdArgs,
    recordType: end === undefined ? "ACCOUNTING_RECORD_TYPE_START" : "ACCOUNTING_RECORD_TYPE_STOP",
    taskId,
    startTime: Math.floor(startTimeMs / 1000),
  };
  if (end !== undefined) {
    request.stopTime = Math.floor(end.stopTimeMs / 1000);
    request.commandEnd = { elapsedTime: Math.round(end.elapsedMs / 1000), exitStatus: end.status ?? -1 };
  }
  return request;
}

/** A wait status (waitpid(2)) as a shell's $?: the exit code, or 128 + the signal number. */
export function shellStatus(waitStatus: number): number {
  const signal = waitStatus & 0x7f;
  return signal === 0 ? (waitStatus >> 8) & 0xff : 128 + signal;
}
