/**
 * Issue 18: every program of a tacacs-session is authorized and accounted through the compiled
 * agent by the test server's per-command rules.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { recordArgs, runSession, SESSION_USER, startSessionStack, type SessionStack } from "../support/session-process";

let stack: SessionStack;
beforeAll(async () => {
  stack = await startSessionStack(["/usr/bin/true", "/usr/bin/false", "/usr/bin/ls *", "/usr/bin/dash *", "/usr/bin/setsid *", "/usr/bin/sleep 0.2"]);
});
afterAll(async () => {
  await stack?.stop();
});

const SHELL = ["--shell", "/bin/sh"];

describe("tacacs-session authorizes every exec", () => {
  test("an allowed command runs; a denied one fails with EACCES and names the command and the server's message", async () => {
    const run = await stack.run([...SHELL, "-c", "/usr/bin/true && echo true-ran; id; echo id=$?; ls -d /"]);
    expect(run.stdout).toBe("true-ran\nid=126\n/\n");
    expect(run.stderr).toContain("tacacs-session: /usr/bin/id: denied: command not permitted");
    expect(run.stderr).toContain("Permission denied");
    expect(run.exit).toBe(0);
  });

  test("a denied command inside a script inside a script is still denied", async () => {
    writeFileSync(join(stack.dir, "inner.sh"), "id\necho inner=$?\n");
    writeFileSync(join(stack.dir, "outer.sh"), `/bin/sh ${join(stack.dir, "inner.sh")}\necho outer-done\n`);
    const run = await stack.run([...SHELL, "-c", `/bin/sh ${join(stack.dir, "outer.sh")}`]);
    expect(run.stdout).toBe("inner=126\nouter-done\n");
    expect(run.stderr).toContain("/usr/bin/id: denied");
  });

  test("a background job and a setsid child are covered", async () => {
    const run = await stack.run([...SHELL, "-c", "(id; echo bg=$?) & wait; setsid -w /bin/sh -c 'id; echo setsid=$?'"]);
    expect(run.stdout).toBe("bg=126\nsetsid=126\n");
    expect(run.stderr.match(/\/usr\/bin\/id: denied/g)).toHaveLength(2);
  });

  test("accounting: START then STOP per command, with task_id, exit status and elapsed time", async () => {
    const before = stack.server.records.length;
    const run = await stack.run([...SHELL, "-c", "/usr/bin/true; /usr/bin/false; sleep 0.2; echo done"]);
    expect(run.stdout).toBe("done\n");
    const records = stack.server.records.slice(before);
    const shown = JSON.stringify(records.map(recordArgs));
    expect(records.length, shown).toBe(6);
    const byTask = new Map<string, string[][]>();
    for (const record of records) {
      expect(record.user).toBe(SESSION_USER);
      const args = recordArgs(record);
      const task = args.find((a) => a.startsWith("task_id="))!;
      byTask.set(task, [...(byTask.get(task) ?? []), args]);
    }
    const commands = [...byTask.values()].map((pair) => pair[0]!.find((a) => a.startsWith("cmd="))!);
    expect(commands, shown).toEqual(["cmd=/usr/bin/true", "cmd=/usr/bin/false", "cmd=/usr/bin/sleep"]);
    const [trueRun, falseRun, sleepRun] = [...byTask.values()];
    for (const pair of [trueRun!, falseRun!, sleepRun!]) {
      expect(pair).toHaveLength(2);
      expect(pair[0]).not.toContainEqual(expect.stringMatching(/^(status|elapsed_time|stop_time)=/));
      expect(pair[1]).toContainEqual(expect.stringMatching(/^elapsed_time=\d+$/));
    }
    expect(trueRun![1]).toContain("status=0");
    expect(falseRun![1]).toContain("status=1");
    expect(sleepRun![1]).toContain("status=0");
    expect(sleepRun![1]).toContain("cmd-arg=0.2");
    // START (0x02) before STOP (0x04) of the same task.
    const flags = records.map((r) => r.flags);
    expect(flags.filter((f) => f === 0x02)).toHaveLength(3);
    expect(flags.filter((f) => f === 0x04)).toHaveLength(3);
    for (const pair of byTask.values()) expect(records.findIndex((r) => recordArgs(r).join() === pair[0]!.join())).toBeLessThan(records.findIndex((r) => recordArgs(r).join() === pair[1]!.join()));
  });

  test("a repeated command, let go by the listener worker from the cached answer, is accounted each time", async () => {
    const before = stack.server.records.length;
    const run = await stack.run([...SHELL, "-c", "/usr/bin/true; /usr/bin/true; /usr/bin/true; id; echo id=$?"]);
    expect(run.stdout).toBe("id=126\n");
    const records = stack.server.records.slice(before).map(recordArgs);
    const shown = JSON.stringify(records);
    expect(records.filter((args) => args.includes("cmd=/usr/bin/true")), shown).toHaveLength(6);
    const tasks = new Set(records.map((args) => args.find((a) => a.startsWith("task_id="))));
    expect(tasks.size, shown).toBe(3);
  });

  test("a command the shell execs in its own process (sh -c 'ls') gets its STOP too", async () => {
    const before = stack.server.records.length;
    const run = await stack.run([...SHELL, "-c", "ls -d /"]);
    expect(run.stdout).toBe("/\n");
    const records = stack.server.records.slice(before).map(recordArgs);
    expect(records).toHaveLength(2);
    expect(records[1]).toContain("status=0");
  });
});

describe("failure policy", () => {
  test("agent down: closed (default) denies at once with a clear message, open allows", async () => {
    const missing = ["--service-endpoint", join(stack.dir, "no-agent.sock"), "--user", SESSION_USER, ...SHELL];
    const closed = await runSession([...missing, "-c", "/usr/bin/true; echo status=$?"], stack.dir);
    expect(closed.stdout).toBe("status=126\n");
    expect(closed.stderr).toContain("TACACS+ authorization unavailable");
    expect(closed.stderr).toContain("failure policy closed");
    const open = await runSession([...missing, "--fail-policy", "open", "-c", "/usr/bin/true; echo status=$?"], stack.dir);
    expect(open.stdout).toBe("status=0\n");
    expect(open.stderr).toContain("failure policy open: commands run without authorization");
  });

  test("every upstream silent: denied within the decision timeout", async () => {
    stack.server.setFaults({ blackHole: true });
    try {
      const run = await stack.run([...SHELL, "--decision-timeout-seconds", "1", "--cache-seconds", "0", "-c", "/usr/bin/true; echo status=$?"]);
      expect(run.stdout).toBe("status=126\n");
      expect(run.stderr).toContain("failure policy closed");
      expect(run.ms).toBeLessThan(8000);
    } finally {
      stack.server.setFaults({ blackHole: false });
    }
  });
});
