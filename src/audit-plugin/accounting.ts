/**
 * An exec event → the agent's AccountingRequest (pure): service=shell (the agent adds it),
 * cmd= the program as invoked (argv[0]), one cmd-arg= per argument, task_id, start_time, and
 * the TACACS+ user, tty, remote address and priv-lvl of the login session (RFC 8907 §8.3),
 * within TACACS+ limits (protocol/command-args.ts).
 */
import { fitCommand, fitCommandArguments } from "../protocol/command-args";
import type { ExecEvent } from "./exec-event";

/** service, cmd, task_id, start_time: what the agent sends besides the cmd-args. */
const OTHER_ARGS = 4;

/** What a login session contributes to each of its commands' records. */
export interface SessionInfo {
  user: string;
  port: string;
  remoteAddress: string;
  privilegeLevel: number;
  /** task_id = `<taskBase>-<audit serial>`. */
  taskBase: string;
  /** When the agent registered the session; execs before it are not the session's (0: fallback). */
  registeredAtMs: number;
}

export type RecordType = "ACCOUNTING_RECORD_TYPE_STOP" | "ACCOUNTING_RECORD_TYPE_START";

export function accountingRequest(event: ExecEvent, session: SessionInfo, recordType: RecordType = "ACCOUNTING_RECORD_TYPE_STOP"): Record<string, unknown> {
  const [program, ...rest] = event.args;
  const command = program === undefined || program.length === 0 ? (event.exe ?? "") : fitCommand(program);
  const commandArguments = fitCommandArguments(rest, event.argc - 1, OTHER_ARGS);
  return {
    user: session.user,
    port: session.port,
    remoteAddress: session.remoteAddress,
    command,
    commandArguments,
    recordType,
    taskId: `${session.taskBase}-${event.serial}`,
    startTime: Math.floor(event.timeMs / 1000),
    privilegeLevel: session.privilegeLevel,
  };
}

/** The STOP of a command accounted with `start` (RFC 8907 §7.2: the same task_id), ended at `stopTimeMs`. */
export function stopRequest(start: Record<string, unknown>, stopTimeMs: number): Record<string, unknown> {
  return { ...start, recordType: "ACCOUNTING_RECORD_TYPE_STOP", stopTime: Math.floor(stopTimeMs / 1000) };
}
