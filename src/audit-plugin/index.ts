/**
 * tacacsrs-audit-plugin: the multi-call binary as an auditd plugin (plugins.d `format = string`):
 * audit records on stdin, one TACACS+ accounting record per exec of a TACACS+ login, through
 * the agent's API. Diagnostics go to stderr (auditd's journal). See README "Command accounting".
 *
 * auditd passes a plugin at most two arguments (MAX_PLUGIN_ARGS in audispd-pconfig.h), so
 * besides `--flag value` an argument may be a comma-separated list of `flag=value`:
 *
 *   path = /usr/bin/tacacsrs-audit-plugin
 *   args = service-endpoint=/run/tacacs/tacacs.sock,fallback-min-uid=1000
 *
 * Exit status: 0 at end of input or SIGTERM, 2 usage error.
 */
import { parseArgs, type ArgsDef } from "citty";
import { readFileSync } from "node:fs";
import { DirectApiClient } from "../api/client";
import { ConfigError } from "../config";
import { parseEndpoint } from "../config/address";
import { AuditPlugin, type PluginOptions } from "./plugin";
import { parseAccounts, type Accounts } from "./sessions";

/** The options, shared with tacacsrs-audit-plugin(8) (scripts/packaging). */
export const ARGS = {
  "service-endpoint": { type: "string", description: "The agent's API socket", default: "/run/tacacs/tacacs.sock" },
  key: { type: "string", description: 'The audit rule key of exec events ("" for any key)', default: "tacacsrs-exec" },
  "fallback-min-uid": { type: "string", description: "Account unregistered sessions whose login uid is at least this" },
  "fallback-group": { type: "string", description: "Account unregistered sessions of members of this group" },
  records: { type: "string", description: 'Accounting records: "stop" (one per exec) or "start-stop" (START at exec, STOP when the command ends; needs exit_group in the rules)', default: "stop" },
  "max-queue": { type: "string", description: "Events held while the agent is slow or away; beyond it they are dropped", default: "10000" },
  concurrency: { type: "string", description: "Calls to the agent in flight at once", default: "32" },
  "timeout-seconds": { type: "string", description: "How long one call to the agent may take", default: "10" },
  "report-interval-seconds": { type: "string", description: "How often the counters go to the agent (tacon status)", default: "10" },
} as const satisfies ArgsDef;

/** How long queued events get to reach the agent at the end. */
const FINISH_GRACE_MS = 3000;
/** /etc/passwd and /etc/group are read again after this long. */
const ACCOUNTS_TTL_MS = 60_000;

class UsageError extends Error {}

/** "a=1,b=2" arguments (auditd's two-argument limit) → "--a 1 --b 2"; flags pass through. */
export function expandCompactArgs(argv: string[]): string[] {
  return argv.flatMap((arg) => {
    if (arg.startsWith("-") || !arg.includes("=")) return [arg];
    return arg.split(",").flatMap((pair) => {
      const equals = pair.indexOf("=");
      if (equals <= 0) throw new UsageError(`"${pair}": expected name=value`);
      return [`--${pair.slice(0, equals)}`, pair.slice(equals + 1)];
    });
  });
}

function wholeNumber(text: unknown, flag: string, min: number, max: number): number {
  const value = Number(text);
  if (typeof text !== "string" || !/^\d+$/.test(text) || value < min || value > max) throw new UsageError(`--${flag}: expected a whole number from ${min} to ${max}, got "${text}"`);
  return value;
}

/** The account files, read again once a minute (a user added since is found). */
function systemAccounts(): Accounts {
  let loaded: { at: number; accounts: Accounts } | undefined;
  const current = () => {
    if (loaded === undefined || Date.now() - loaded.at > ACCOUNTS_TTL_MS) {
      const read = (path: string) => {
        try {
          return readFileSync(path, "utf8");
        } catch {
          return "";
        }
      };
      loaded = { at: Date.now(), accounts: parseAccounts(read("/etc/passwd"), read("/etc/group")) };
    }
    return loaded.accounts;
  };
  return { userName: (uid) => current().userName(uid), inGroup: (user, group) => current().inGroup(user, group) };
}

function options(args: ReturnType<typeof parseArgs<typeof ARGS>>): PluginOptions & { reportIntervalMs: number } {
  const minUid = args["fallback-min-uid"];
  const group = args["fallback-group"];
  if (group !== undefined && !/^[A-Za-z0-9_][A-Za-z0-9_.-]*\$?$/.test(group)) throw new UsageError(`--fallback-group: "${group}" is not a group name`);
  const records = args.records;
  if (records !== "stop" && records !== "start-stop") throw new UsageError(`--records: expected stop or start-stop, got "${records}"`);
  return {
    key: args.key === "" ? undefined : args.key,
    records,
    fallback: { minUid: minUid === undefined ? undefined : wholeNumber(minUid, "fallback-min-uid", 0, 0xffff_fffe), group },
    maxQueue: wholeNumber(args["max-queue"], "max-queue", 1, 1_000_000),
    concurrency: wholeNumber(args.concurrency, "concurrency", 1, 1024),
    callTimeoutMs: wholeNumber(args["timeout-seconds"], "timeout-seconds", 1, 3600) * 1000,
    reportIntervalMs: wholeNumber(args["report-interval-seconds"], "report-interval-seconds", 1, 86_400) * 1000,
  };
}

export async function runAuditPlugin(argv: string[]): Promise<number> {
  const write = (line: string) => process.stderr.write(`${line}\n`);
  let plugin: AuditPlugin;
  let client: DirectApiClient;
  let reportIntervalMs: number;
  try {
    const expanded = expandCompactArgs(argv);
    const unknown = expanded.find((arg) => arg.startsWith("--") && !(arg.slice(2).split("=")[0]! in ARGS));
    if (unknown !== undefined) throw new UsageError(`unknown option ${unknown}`);
    const args = parseArgs<typeof ARGS>(expanded, ARGS);
    if (args._.length > 0) throw new UsageError(`unexpected argument "${args._[0]}"`);
    const parsed = options(args);
    reportIntervalMs = parsed.reportIntervalMs;
    client = new DirectApiClient(parseEndpoint(String(args["service-endpoint"]), "--service-endpoint"));
    plugin = new AuditPlugin(client, systemAccounts(), parsed, write);
  } catch (error) {
    if (error instanceof UsageError || error instanceof ConfigError) {
      write(`tacacsrs-audit-plugin: ${error.message}`);
      return 2;
    }
    throw error;
  }
  const reporter = setInterval(() => void plugin.report(), reportIntervalMs);
  const reader = Bun.stdin.stream().getReader();
  // auditd sends SIGHUP after reloading its configuration (we have none to reload) and SIGTERM to stop.
  process.on("SIGHUP", () => {});
  process.on("SIGTERM", () => void reader.cancel());
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      plugin.read(value);
    }
  } catch {
    // A cancelled or broken stdin ends the input like EOF.
  }
  await plugin.finish(FINISH_GRACE_MS);
  clearInterval(reporter);
  await plugin.report();
  const c = plugin.counters();
  write(`tacacsrs-audit-plugin: stopping: ${c.eventsRead} events read, ${c.accounted} accounted, ${c.skipped} skipped, ${c.dropped} dropped, ${c.malformed} malformed, ${c.failed} failed`);
  client.close();
  return 0;
}
