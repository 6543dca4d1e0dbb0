/**
 * The test TACACS+ server as a process, for demos, benchmarks and multi-process tests:
 *
 *   bun test/support/tacacs-server-cli.ts --port 0 --key K [--tls-cert F --tls-key F [--tls-ca F --request-cert]]
 *       [--no-single-connect] [--policy FILE.json] [fault flags, see --help]
 *
 * Prints one JSON line `{"port":N}` on stdout when it listens. SIGTERM/SIGINT stop it (exit 0).
 * While running, each stdin line is a JSON command, answered with one JSON line on stdout:
 *   {"faults":{"blackHole":true}}   change faults       → {"ok":true}
 *   {"cmd":"counters"}              counters            → {"counters":{...}}
 *   {"cmd":"records"}               accounting records  → {"records":[...]}
 *   {"cmd":"reset"}                 abort connections   → {"ok":true}
 */
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import * as v from "valibot";
import { startTacacsServer, type Faults, type Policy, type TacacsServerOptions, type TestServer } from "./tacacs-server";

const HELP = `usage: tacacs-server-cli [options]
  --host H                 127.0.0.1 (default) or ::1
  --port N                 0 (default) picks a free port
  --key K                  shared secret (omit: unencrypted packets only)
  --tls-cert F --tls-key F serve TLS 1.3 (PEM files)
  --tls-ca F               CA for client certificates; with --request-cert: mutual TLS
  --request-cert           require a client certificate
  --no-single-connect      refuse single-connect; close after each session
  --policy F               JSON policy {"users":{"NAME":{"password":"..","chapSecret":"..","privLvl":15,
                           "commands":["show version"],"services":{"ppp":["addr=10.1.2.3"]}}}}
  --follow-servers S       server list sent in FOLLOW replies
faults:
  --refuse --close-on-accept --black-hole --delay-ms N --close-after-request --close-mid-reply
  --garbage --reply-status error|follow|restart --wrong-key --drop-single-connect
  --idle-timeout-ms N --one-packet-per-read`;

const STRING_OPTIONS = ["host", "port", "key", "tls-cert", "tls-key", "tls-ca", "policy", "follow-servers", "delay-ms", "reply-status", "idle-timeout-ms"] as const;
const BOOLEAN_OPTIONS = [
  "request-cert",
  "no-single-connect",
  "refuse",
  "close-on-accept",
  "black-hole",
  "close-after-request",
  "close-mid-reply",
  "garbage",
  "wrong-key",
  "drop-single-connect",
  "one-packet-per-read",
  "help",
] as const;

class UsageError extends Error {}

function integer(name: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const value = Number(text);
  if (!Number.isInteger(value) || value < 0) throw new UsageError(`--${name} needs a non-negative integer, got "${text}"`);
  return value;
}

function readText(name: string, path: string | undefined): string | undefined {
  if (path === undefined) return undefined;
  try {
    return readFileSync(path, "utf8");
  } catch {
    throw new UsageError(`--${name}: cannot read ${path}`);
  }
}

function replyStatus(text: string | undefined): Faults["replyStatus"] {
  if (text === undefined || text === "error" || text === "follow" || text === "restart") return text;
  throw new UsageError(`--reply-status must be error, follow or restart, not "${text}"`);
}

const PolicySchema = v.object({
  users: v.record(
    v.string(),
    v.object({
      password: v.string(),
      chapSecret: v.optional(v.string()),
      privLvl: v.optional(v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(15)), 15),
      commands: v.optional(v.array(v.string()), []),
      services: v.optional(v.record(v.string(), v.array(v.string())), {}),
    }),
  ),
});

const Millis = v.pipe(v.number(), v.integer(), v.minValue(0));
const FaultsPatchSchema = v.partial(
  v.strictObject({
    refuse: v.boolean(),
    closeOnAccept: v.boolean(),
    blackHole: v.boolean(),
    delayMs: Millis,
    closeAfterRequest: v.boolean(),
    closeMidReply: v.boolean(),
    garbage: v.boolean(),
    replyStatus: v.optional(v.picklist(["error", "follow", "restart"])),
    wrongKey: v.boolean(),
    dropSingleConnect: v.boolean(),
    idleTimeoutMs: Millis,
    onePacketPerRead: v.boolean(),
  }),
);

function parsePolicy(text: string | undefined): Policy | undefined {
  if (text === undefined) return undefined;
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new UsageError("--policy: the file is not valid JSON");
  }
  const result = v.safeParse(PolicySchema, json);
  if (!result.success) throw new UsageError(`--policy: ${v.summarize(result.issues).replaceAll("\n", "; ")}`);
  return result.output;
}

export function optionsFromArgs(argv: string[]): TacacsServerOptions | "help" {
  const options = Object.fromEntries([
    ...STRING_OPTIONS.map((name) => [name, { type: "string" }] as const),
    ...BOOLEAN_OPTIONS.map((name) => [name, { type: "boolean" }] as const),
  ]);
  let values: Record<string, string | boolean | undefined>;
  try {
    values = parseArgs({ args: argv, options, strict: true, allowPositionals: false }).values as typeof values;
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  if (values.help) return "help";
  const text = (name: (typeof STRING_OPTIONS)[number]) => values[name] as string | undefined;
  const flag = (name: (typeof BOOLEAN_OPTIONS)[number]) => values[name] === true;
  const cert = readText("tls-cert", text("tls-cert"));
  const key = readText("tls-key", text("tls-key"));
  if ((cert === undefined) !== (key === undefined)) throw new UsageError("--tls-cert and --tls-key go together");
  const ca = readText("tls-ca", text("tls-ca"));
  return {
    host: text("host"),
    port: integer("port", text("port")),
    key: text("key"),
    tls: cert !== undefined && key !== undefined ? { cert, key, ca, requestCert: flag("request-cert") } : undefined,
    singleConnect: !flag("no-single-connect"),
    policy: parsePolicy(readText("policy", text("policy"))),
    followServers: text("follow-servers"),
    faults: {
      refuse: flag("refuse"),
      closeOnAccept: flag("close-on-accept"),
      blackHole: flag("black-hole"),
      delayMs: integer("delay-ms", text("delay-ms")) ?? 0,
      closeAfterRequest: flag("close-after-request"),
      closeMidReply: flag("close-mid-reply"),
      garbage: flag("garbage"),
      replyStatus: replyStatus(text("reply-status")),
      wrongKey: flag("wrong-key"),
      dropSingleConnect: flag("drop-single-connect"),
      idleTimeoutMs: integer("idle-timeout-ms", text("idle-timeout-ms")) ?? 0,
      onePacketPerRead: flag("one-packet-per-read"),
    },
  };
}

function answer(server: TestServer, line: string): unknown {
  let command: { faults?: unknown; cmd?: string };
  try {
    command = JSON.parse(line);
  } catch {
    return { error: "not JSON" };
  }
  if (command.faults !== undefined) {
    const patch = v.safeParse(FaultsPatchSchema, command.faults);
    if (!patch.success) return { error: v.summarize(patch.issues) };
    server.setFaults(patch.output);
    return { ok: true };
  }
  if (command.cmd === "counters") return { counters: server.counters };
  if (command.cmd === "records") return { records: server.records };
  if (command.cmd === "reset") {
    server.resetConnections();
    return { ok: true };
  }
  return { error: `unknown command ${JSON.stringify(command.cmd)}` };
}

async function main(): Promise<number> {
  let options: TacacsServerOptions | "help";
  try {
    options = optionsFromArgs(process.argv.slice(2));
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    process.stderr.write(`tacacs-server-cli: ${error.message}\n${HELP}\n`);
    return 2;
  }
  if (options === "help") {
    process.stdout.write(`${HELP}\n`);
    return 0;
  }
  let server: TestServer;
  try {
    server = await startTacacsServer(options);
  } catch (error) {
    process.stderr.write(`tacacs-server-cli: cannot start: ${(error as Error).message}\n`);
    return 1;
  }
  const stopped = new Promise<number>((resolve) => {
    const stop = () => void server.stop().then(() => resolve(0));
    process.once("SIGTERM", stop);
    process.once("SIGINT", stop);
  });
  process.stdout.write(`${JSON.stringify({ port: server.port })}\n`);
  void (async () => {
    for await (const line of console) {
      if (line.trim() !== "") process.stdout.write(`${JSON.stringify(answer(server, line))}\n`);
    }
  })();
  return stopped;
}

if (import.meta.main) process.exit(await main());
