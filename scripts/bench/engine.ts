/**
 * Micro-benchmark of the upstream engine: CPU µs per accounting exchange for 64 concurrent callers
 * through createEngine, over one in-memory single-connect server that answers every packet of a
 * turn in one chunk (no sockets; the fake server's own cost is included, the same for every side).
 *
 *   bun scripts/bench/engine.ts [--key] [--rounds N] [--baseline DIR]...
 *
 * --key obfuscates with a shared secret (RFC 8907 §4.5 MD5 pads on both sides); without it the
 * packets carry the unencrypted flag. --baseline DIR measures another copy of src/upstream (e.g.
 * the previous version in a git worktree) interleaved round by round with the current one.
 */
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import { Secret } from "../../src/common/secret";
import { silentLogger } from "../../src/common/log";
import { AcctStatus, encodeAcctReply, encodePacket, decodePacket, Flags, PacketType, VERSION_DEFAULT } from "../../src/protocol";
import type { Connector } from "../../src/transport/types";
import type { UpstreamEngine } from "../../src/upstream";
import { median, round } from "./stats";
import { ACCOUNTING_BODY } from "./tacacs-load";

const CALLERS = 64;
const KEY = "labkey123";
const REPLY = encodeAcctReply({ status: AcctStatus.Success, serverMsg: "", data: "" });

/** A server that answers each accounting request with SUCCESS, all of one turn in one chunk. */
function fakeServer(key: Uint8Array | undefined): Connector {
  return {
    connect: async (_target, handlers) => {
      let replies: Uint8Array[] = [];
      return {
        remote: "fake:49",
        close: () => queueMicrotask(() => handlers.onClose()),
        write: (packet) => {
          if (replies.length === 0) setImmediate(() => handlers.onData(Buffer.concat(replies.splice(0))));
          const { header } = decodePacket(packet, key);
          const flags = Flags.SingleConnect | (key ? 0 : Flags.Unencrypted);
          replies.push(encodePacket({ ...header, seqNo: header.seqNo + 1, flags }, REPLY, key));
        },
      };
    },
  };
}

async function engineFrom(root: string, key: boolean): Promise<UpstreamEngine> {
  const { createEngine } = (await import(`${root}/engine`)) as typeof import("../../src/upstream/engine");
  const secret = key ? Secret.fromText(KEY) : undefined;
  return createEngine(
    {
      servers: [{ name: "fake", host: "fake", port: 49, security: { kind: "tcp" }, singleConnection: true, timeoutMs: 5000, ...(secret ? { sharedSecret: secret } : {}) }],
      connectTimeoutMs: 500,
      probeIntervalMs: 10_000,
      maxSessionsInFlight: 1024,
    },
    { connectorFor: () => fakeServer(key ? new TextEncoder().encode(KEY) : undefined), logger: silentLogger },
  );
}

/** Runs the closed loop for `ms`; returns CPU µs per exchange. */
async function measure(engine: UpstreamEngine, ms: number): Promise<number> {
  let exchanges = 0;
  const until = performance.now() + ms;
  const cpu = process.cpuUsage();
  const caller = async () => {
    while (performance.now() < until) {
      const session = await engine.start({ type: PacketType.Accounting, version: VERSION_DEFAULT, body: ACCOUNTING_BODY, deadline: Date.now() + 5000, resendable: true });
      session.end();
      exchanges++;
    }
  };
  await Promise.all(Array.from({ length: CALLERS }, caller));
  const used = process.cpuUsage(cpu);
  return (used.user + used.system) / exchanges;
}

const { values } = parseArgs({ options: { key: { type: "boolean" }, rounds: { type: "string" }, baseline: { type: "string", multiple: true } } });
const rounds = Number(values.rounds ?? 5);
const sides = [{ name: "current", root: new URL("../../src/upstream", import.meta.url).pathname }, ...(values.baseline ?? []).map((dir) => ({ name: dir, root: resolve(dir) }))];
const engines = await Promise.all(sides.map((side) => engineFrom(side.root, values.key === true)));
for (const engine of engines) await measure(engine, 2000); // steady state: the JIT has compiled the hot paths
const results = sides.map(() => [] as number[]);
for (let r = 0; r < rounds; r++) for (const [i, engine] of engines.entries()) results[i]!.push(await measure(engine, 1000));
for (const [i, side] of sides.entries()) console.log(`| ${side.name.padEnd(30)} | ${round(median(results[i]!), 2)} µs/exchange | ${results[i]!.map((v) => round(v, 2)).join(" / ")}`);
console.log(JSON.stringify({ bench: "engine", unit: "cpu µs per exchange (median)", key: values.key === true, result: Object.fromEntries(sides.map((s, i) => [s.name, round(median(results[i]!), 2)])) }));
process.exit(0);
