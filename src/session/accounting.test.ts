import { expect, test } from "bun:test";
import { CommandAccounting } from "./accounting";
import type { ExecTarget } from "./exec-target";

const session = { user: "u", port: "pts/1", remoteAddress: "192.0.2.1", privilegeLevel: 1, authenticationContext: "x" };
const target = (path: string): ExecTarget => ({ path, args: [], argc: 0 });

function fakeApi(fail = false) {
  const sent: Record<string, unknown>[] = [];
  let release: () => void = () => {};
  const gate = new Promise<void>((resolve) => (release = resolve));
  return {
    sent,
    release,
    api: {
      async call(_method: string, request: object) {
        sent.push(request as Record<string, unknown>);
        if ((request as { recordType: string }).recordType.endsWith("START")) await gate;
        if (fail) throw new Error("agent away");
        return { result: "response", response: { status: "ACCOUNTING_STATUS_SUCCESS" } };
      },
    },
  };
}

test("STOP waits for its START; an exec in the same process ends the previous command; gone processes end too", async () => {
  const { api, sent, release } = fakeApi();
  const accounting = new CommandAccounting(api, session, "7.x", 1000);
  accounting.started(10, target("/usr/bin/sleep"), 1_000);
  accounting.ended(10, 1 << 8, 3_600);
  expect(sent.map((r) => r.recordType)).toEqual(["ACCOUNTING_RECORD_TYPE_START"]);
  release();
  await accounting.flush(1000);
  expect(sent[1]).toMatchObject({ recordType: "ACCOUNTING_RECORD_TYPE_STOP", taskId: "7.x-1", commandEnd: { exitStatus: 1, elapsedTime: 3 } });
  accounting.started(11, target("/usr/bin/bash"), 5_000);
  accounting.started(11, target("/usr/bin/ls"), 5_100);
  accounting.started(12, target("/usr/bin/cat"), 5_200);
  expect(accounting.anyGone((pid) => pid !== 12)).toBe(true);
  accounting.endGone((pid) => pid !== 12, 6_000);
  expect(accounting.anyGone((pid) => pid !== 12)).toBe(false);
  await accounting.flush(1000);
  const summary = sent.slice(2).map((r) => `${r.recordType} ${r.taskId} ${r.command} ${(r.commandEnd as { exitStatus: number } | undefined)?.exitStatus ?? "-"}`);
  expect(summary.sort()).toEqual([
    "ACCOUNTING_RECORD_TYPE_START 7.x-2 /usr/bin/bash -",
    "ACCOUNTING_RECORD_TYPE_START 7.x-3 /usr/bin/ls -",
    "ACCOUNTING_RECORD_TYPE_START 7.x-4 /usr/bin/cat -",
    "ACCOUNTING_RECORD_TYPE_STOP 7.x-2 /usr/bin/bash -1",
    "ACCOUNTING_RECORD_TYPE_STOP 7.x-4 /usr/bin/cat -1",
  ]);
  expect(accounting.counters()).toMatchObject({ starts: 4, stops: 3, stopsWithoutStatus: 2, failed: 0, running: 1, pending: 0 });
});

test("failed records are counted, never thrown", async () => {
  const { api, release } = fakeApi(true);
  release();
  const accounting = new CommandAccounting(api, session, "t", 1000);
  accounting.started(1, target("/usr/bin/true"), 0);
  accounting.ended(1, 0, 1);
  await accounting.flush(1000);
  expect(accounting.counters()).toMatchObject({ failed: 2, pending: 0 });
});
