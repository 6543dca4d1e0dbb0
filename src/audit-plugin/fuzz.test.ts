/**
 * The plugin never dies on input: seeded mutations of real records (cut, duplicated, bytes
 * flipped, lines shuffled and interleaved) and random bytes go through the whole pipeline; every
 * event read ends accounted, skipped, dropped or failed, and nothing throws.
 */
import { expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { prng } from "../../test/support/prng";
import { AuditPlugin, type AgentApi } from "./plugin";
import { parseAccounts } from "./sessions";

const LINES = ["exec-records.txt", "exit-records.txt"].flatMap((name) =>
  readFileSync(new URL(`../../test/fixtures/audit/${name}`, import.meta.url), "utf8").split("\n").filter(Boolean),
);

const agent: AgentApi = {
  call: async (method) =>
    method === "LookupAuditSession"
      ? { found: true, session: { user: "u", port: "p", remoteAddress: "", privilegeLevel: 1, taskBase: "t", registeredAtMs: 0 } }
      : { result: "response", response: { status: "ACCOUNTING_STATUS_SUCCESS" } },
};

function mutate(line: string, random: () => number): string {
  const at = Math.floor(random() * line.length);
  switch (Math.floor(random() * 6)) {
    case 0:
      return line.slice(0, at);
    case 1:
      return line.slice(0, at) + String.fromCharCode(Math.floor(random() * 256)) + line.slice(at + 1);
    case 2:
      return line.slice(0, at) + line.slice(at, at + 40).repeat(3) + line.slice(at);
    case 3:
      return line.replace(/a(\d+)=/, (_, n) => `a${Number(n) + 1}=`);
    case 4:
      return line.replace(/=("[^"]*"|\S+)/, "=");
    default:
      return line;
  }
}

test("500 seeded rounds of mutated records and random bytes: no throw, every event accounted for", async () => {
  for (let seed = 1; seed <= 500; seed++) {
    const random = prng(seed);
    const lines = LINES.filter(() => random() < 0.5).map((line) => (random() < 0.3 ? mutate(line, random) : line));
    for (let i = lines.length - 1; i > 0 && random() < 0.5; i--) {
      const j = Math.floor(random() * (i + 1));
      [lines[i], lines[j]] = [lines[j]!, lines[i]!];
    }
    const noise = Uint8Array.from({ length: Math.floor(random() * 300) }, () => Math.floor(random() * 256));
    const log: string[] = [];
    const plugin = new AuditPlugin(agent, parseAccounts("", ""), { key: "tacacsrs-capture-22", fallback: { minUid: 1000, group: undefined }, maxQueue: 50, concurrency: 4, callTimeoutMs: 1000, records: seed % 2 ? "stop" : "start-stop" }, (line) => log.push(line));
    plugin.read(new TextEncoder().encode(`${lines.join("\n")}\n`));
    plugin.read(noise);
    await plugin.finish(1000);
    const c = plugin.counters();
    expect(log.filter((line) => line.includes("internal error"))).toEqual([]);
    expect(c.queueDepth).toBe(0);
    if (seed % 2) expect(c.accounted + c.skipped + c.dropped + c.failed).toBe(c.eventsRead);
  }
}, 60_000);
