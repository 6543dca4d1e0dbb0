/** Fan-out collectors across a reconfiguration, with an engine where every collector is down. */
import { afterEach, expect, test } from "bun:test";
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { capturingLogger } from "../../test/support/logging";
import { ManualClock } from "../upstream/manual-clock";
import { UpstreamError, type UpstreamEngine } from "../upstream/types";
import { AcctFlags, AuthenMethod, AuthenService, AuthenType, encodeAcctRequest } from "../protocol";
import { AccountingDelivery } from "./delivery";
import { Spool } from "./spool";

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

const down = {
  onStateChange: () => () => {},
  startOn: async (server: string) => {
    throw new UpstreamError(`${server}: connection refused`, server, true, "unavailable");
  },
} as unknown as UpstreamEngine;

const body = encodeAcctRequest({ flags: AcctFlags.Stop, authenMethod: AuthenMethod.TacacsPlus, privLvl: 1, authenType: AuthenType.Ascii, authenService: AuthenService.Login, user: "h15", port: "tty0", remAddr: "", args: [{ name: "task_id", value: "1", mandatory: true }] });

test("a collector whose spool directory cannot be used goes without: logged, its misses counted, the others still spool", async () => {
  const dir = mkdtempSync(join(tmpdir(), "tacacsrs-h15-delivery-"));
  dirs.push(dir);
  const clock = new ManualClock(1_000_000);
  const log = capturingLogger();
  const open = (path: string) => Spool.open({ dir: path, maxBytes: 1 << 20, clock, log });
  const delivery = new AccountingDelivery({ engine: down, fanOut: [{ server: "a", address: "127.0.0.1:1" }], collectorSpools: { dir, open }, clock, log, requestTimeoutMs: 1000, replayWindow: 4 });
  // A file where b's directory would go.
  writeFileSync(join(dir, "fan-out-127.0.0.1_2"), "not a directory");
  expect(() => delivery.reconfigureFanOut([{ server: "a", address: "127.0.0.1:1" }, { server: "b", address: "127.0.0.1:2" }])).not.toThrow();
  expect(log.lines.join("\n")).toContain("accounting fan-out: no spool for b (");
  expect(await delivery.fanOut(0xc0, body, clock.now() + 1000)).toEqual({ kind: "queued" });
  expect(delivery.stats()).toMatchObject({ records: 1, fanOutMissed: 1, orphanedRecords: 0 });
  // a leaves: its record is kept, counted as orphaned.
  delivery.reconfigureFanOut([{ server: "b", address: "127.0.0.1:2" }]);
  expect(delivery.stats()).toMatchObject({ records: 1, orphanedRecords: 1 });
  expect(readdirSync(dir).sort()).toEqual(["fan-out-127.0.0.1_1", "fan-out-127.0.0.1_2"]);
  await delivery.close();
});
