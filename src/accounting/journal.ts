/**
 * --accounting-log: every accounting record the agent accepts, as one structured line, so the
 * host keeps its own trail even when every collector is gone (under systemd: the journal). Pure.
 */
import { AcctFlags, decodeAcctRequest, formatArg } from "../protocol";

const FLAG_NAMES: Record<number, string> = {
  [AcctFlags.Start]: "start",
  [AcctFlags.Stop]: "stop",
  [AcctFlags.Watchdog]: "watchdog",
  [AcctFlags.Watchdog | AcctFlags.Start]: "watchdog-update",
};

/** Where the record went: the server that took it, or the spool; with fan-out, per collector. */
export type JournalOutcome = { delivered: string } | { queued: true } | { fanOut: { delivered: string[]; queued: string[] } };

/** The journal fields of an accounting REQUEST body; undefined when it is none (never throws). */
export function journalFields(body: Uint8Array): Record<string, unknown> | undefined {
  try {
    const request = decodeAcctRequest(body);
    const taskId = request.args.find((arg) => arg.name === "task_id")?.value;
    return {
      user: request.user,
      port: request.port,
      remote_address: request.remAddr,
      flags: FLAG_NAMES[request.flags] ?? request.flags,
      priv_lvl: request.privLvl,
      args: request.args.map(formatArg),
      ...(taskId === undefined ? {} : { task_id: taskId }),
    };
  } catch {
    return undefined;
  }
}

/** One line: `accounting {"user":…,"outcome":"delivered","server":…}` (JSON escapes control characters). */
export function journalLine(fields: Record<string, unknown>, outcome: JournalOutcome): string {
  const where =
    "fanOut" in outcome
      ? { outcome: outcome.fanOut.delivered.length > 0 ? "delivered" : "queued", servers: outcome.fanOut.delivered, queued_for: outcome.fanOut.queued }
      : "queued" in outcome
        ? { outcome: "queued" }
        : { outcome: "delivered", server: outcome.delivered };
  return `accounting ${JSON.stringify({ ...fields, ...where })}`;
}
