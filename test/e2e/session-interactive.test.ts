/**
 * Issue 18: an interactive bash under a pty, supervised by tacacs-session: typed commands are
 * authorized one by one; a denied one is refused with the server's message and the shell goes on;
 * what Bun changes in a process (ignored SIGPIPE, the fd limit) does not reach the user's programs.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { startPty } from "../support/pty-session";
import { startSessionStack, type SessionStack } from "../support/session-process";
import { havePeer } from "../support/peer";

let stack: SessionStack;
beforeAll(async () => {
  stack = await startSessionStack(["/usr/bin/bash *", "/usr/bin/true", "/usr/bin/yes", "/usr/bin/head -1", "/usr/bin/grep *"]);
});
afterAll(async () => {
  await stack?.stop();
});

test.skipIf(!havePeer("script"))("typing allowed and denied commands in an interactive shell", async () => {
  const rc = join(stack.dir, "h18.bashrc");
  writeFileSync(rc, "PS1='h18$ '\n");
  const session = startPty([...stack.command(), "--", "/bin/bash", "--rcfile", rc, "-i"], { cwd: stack.dir, env: { PATH: "/usr/bin:/bin", HOME: stack.dir, TERM: "dumb" } });
  try {
    await session.expectOutput("h18$ ");
    session.type("/usr/bin/true && echo ok-$((40+2))");
    await session.expectOutput("ok-42");
    session.type("id; echo id-status-$?");
    await session.expectOutput("id-status-126");
    expect(session.output()).toContain("tacacs-session: /usr/bin/id: denied: command not permitted");
    expect(session.output()).toContain("/usr/bin/id: Permission denied");
    // SIGPIPE is the default again: yes dies of it (141) and says nothing about a broken pipe.
    session.type("yes | head -1; echo pipe-${PIPESTATUS[0]}");
    await session.expectOutput("pipe-141");
    session.type("grep -E '^SigIgn' /proc/self/status");
    await session.expectOutput("SigIgn:\t0000000000000000");
    session.type("exit 5");
    expect(await session.exited()).toBe(5);
    expect(session.output()).not.toContain("Broken pipe");
  } catch (error) {
    await session.exited(1);
    throw error;
  }
}, 30_000);
