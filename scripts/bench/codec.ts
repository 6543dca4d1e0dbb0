/**
 * Micro-benchmark of the RFC 8907 codec: CPU nanoseconds per operation for the packets the agent
 * sends and receives most (a request encoded and obfuscated, a reply framed, de-obfuscated and
 * decoded), for authentication, authorization and accounting.
 *
 *   bun scripts/bench/codec.ts [--rounds N] [--baseline DIR]...
 *
 * --baseline DIR measures another copy of src/protocol (e.g. the previous version copied to /tmp)
 * side by side, interleaved round by round, after checking all produce the same bytes and values.
 * Prints a table and one JSON line.
 */
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import * as current from "../../src/protocol/index";
import { median, round } from "./stats";

type Codec = typeof current;
type Operation = () => unknown;

const KEY = new TextEncoder().encode("labkey123");
const SESSION_ID = 0x5a17c0de;

/** The six operations over `codec`; each returns the bytes or value it produced, for the A/B check. */
function operations(codec: Codec): Record<string, Operation> {
  const header = (type: number, seqNo: number, version: number = codec.VERSION_DEFAULT) => ({ version, type, seqNo, flags: 0, sessionId: SESSION_ID });
  const names = { privLvl: 1, authenType: codec.AuthenType.Ascii, user: "admin", port: "tty0", remAddr: "10.0.0.1" };
  const request = { ...names, authenMethod: codec.AuthenMethod.TacacsPlus, authenService: codec.AuthenService.Login };
  const args = [
    { name: "service", value: "shell", mandatory: true },
    { name: "cmd", value: "show", mandatory: true },
    { name: "cmd-arg", value: "version", mandatory: true },
  ];
  const acctStart = { ...request, flags: codec.AcctFlags.Start, args: [...args, { name: "task_id", value: "4711", mandatory: true }, { name: "start_time", value: "1763917200", mandatory: true }] };
  const authenStart = {
    ...names,
    action: codec.AuthenAction.Login,
    authenType: codec.AuthenType.Pap,
    service: codec.AuthenService.Login,
    data: new TextEncoder().encode("s3cret-pass"),
  };
  const reader = new codec.FrameReader();
  /** A reply as it arrives: pushed to the frame reader, de-obfuscated and decoded. */
  const receive = <T>(wire: Uint8Array, decodeBody: (body: Uint8Array) => T) => () => decodeBody(codec.decodePacket(reader.push(wire)[0]!, KEY).body);
  const authenReply = codec.encodePacket(header(1, 2, codec.VERSION_ONE), codec.encodeAuthenReply({ status: codec.AuthenStatus.Pass, flags: 0, serverMsg: "", data: new Uint8Array(0) }), KEY);
  const authorReply = codec.encodePacket(
    header(2, 2),
    codec.encodeAuthorReply({ status: codec.AuthorStatus.PassAdd, args: [{ name: "priv-lvl", value: "15", mandatory: true }], serverMsg: "", data: "" }),
    KEY,
  );
  const acctReply = codec.encodePacket(header(3, 2), codec.encodeAcctReply({ status: codec.AcctStatus.Success, serverMsg: "", data: "" }), KEY);
  return {
    "authen START encode": () => codec.encodePacket(header(1, 1, codec.VERSION_ONE), codec.encodeAuthenStart(authenStart), KEY),
    "authen REPLY decode": receive(authenReply, codec.decodeAuthenReply),
    "author REQUEST encode": () => codec.encodePacket(header(2, 1), codec.encodeAuthorRequest({ ...request, args }), KEY),
    "author REPLY decode": receive(authorReply, codec.decodeAuthorReply),
    "acct START encode": () => codec.encodePacket(header(3, 1), codec.encodeAcctRequest(acctStart), KEY),
    "acct REPLY decode": receive(acctReply, codec.decodeAcctReply),
  };
}

/** CPU nanoseconds per call of `op` over `iterations` calls. */
function cpuNsPerOp(op: Operation, iterations: number): number {
  const start = process.cpuUsage();
  for (let i = 0; i < iterations; i++) op();
  const used = process.cpuUsage(start);
  return ((used.user + used.system) * 1000) / iterations;
}

function same(a: unknown, b: unknown): boolean {
  return Bun.deepEquals(a, b, true);
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { rounds: { type: "string", default: "7" }, baseline: { type: "string", multiple: true, default: [] } } });
  const rounds = Number(values.rounds);
  if (!Number.isInteger(rounds) || rounds < 1) throw new Error(`--rounds needs a positive integer, got "${values.rounds}"`);
  const codecs: Record<string, Codec> = { current };
  for (const dir of values.baseline) codecs[dir] = (await import(resolve(dir, "index.ts"))) as Codec;

  const ops = Object.fromEntries(Object.entries(codecs).map(([name, codec]) => [name, operations(codec)]));
  const opNames = Object.keys(ops.current!);
  for (const opName of opNames) {
    const results = Object.values(ops).map((o) => o[opName]!());
    if (!results.every((r) => same(r, results[0]))) throw new Error(`${opName}: the codecs disagree`);
  }

  const iterations = 20_000;
  const samples: Record<string, Record<string, number[]>> = {};
  const entries = Object.entries(ops);
  for (let r = 0; r <= rounds; r++) {
    for (const opName of opNames) {
      // Each round starts with the next codec, so none always runs first (or right after GC).
      for (let i = 0; i < entries.length; i++) {
        const [codecName, o] = entries[(r + i) % entries.length]!;
        const ns = cpuNsPerOp(o[opName]!, iterations);
        // Round 0 warms the JIT up and is not counted.
        if (r > 0) ((samples[opName] ??= {})[codecName] ??= []).push(ns);
      }
    }
  }

  const result: Record<string, Record<string, number>> = {};
  const codecNames = Object.keys(codecs);
  const width = Math.max(...codecNames.map((c) => c.length)) + 6;
  console.log(`| operation              | ${codecNames.map((c) => `${c} ns/op`.padStart(width)).join(" | ")} |`);
  for (const opName of opNames) {
    const row = (result[opName] = Object.fromEntries(codecNames.map((c) => [c, round(median(samples[opName]![c]!))])));
    console.log(`| ${opName.padEnd(22)} | ${codecNames.map((c) => String(row[c]).padStart(width)).join(" | ")} |`);
  }
  console.log(JSON.stringify({ bench: "codec", unit: "cpu ns/op (median)", rounds, iterations, result }));
}

await main();
