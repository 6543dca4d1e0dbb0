/**
 * A private syslog socket for tests: a Unix datagram socket (what /dev/log is) in a temp dir,
 * received by a small python3 helper (Bun has no Unix datagram sockets), one line per datagram.
 *
 *   const log = await startSyslogReceiver();
 *   ... a program sends to log.path ...
 *   await log.waitFor(/fail closed/);
 *   log.stop();
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const RECEIVER = [
  "import socket, sys",
  "s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)",
  "s.bind(sys.argv[1])",
  "print('ready', flush=True)",
  "while True:",
  "    print(s.recv(65536).decode('utf-8', 'replace').replace('\\n', ' '), flush=True)",
].join("\n");

export interface SyslogReceiver {
  readonly path: string;
  /** Every datagram received so far, in order. */
  lines(): string[];
  /** Resolves with the first line matching `pattern` (already received or arriving within `timeoutMs`). */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<string>;
  stop(): void;
}

export async function startSyslogReceiver(): Promise<SyslogReceiver> {
  const dir = mkdtempSync(join(tmpdir(), "tacacsrs-syslog-"));
  const path = join(dir, "log");
  const child = Bun.spawn(["python3", "-I", "-S", "-c", RECEIVER, path], { stdin: "ignore", stdout: "pipe", stderr: "inherit" });
  const received: string[] = [];
  let ready!: () => void;
  const readyPromise = new Promise<void>((resolve) => (ready = resolve));
  void (async () => {
    let pending = "";
    for await (const chunk of child.stdout) {
      pending += new TextDecoder().decode(chunk);
      let newline: number;
      while ((newline = pending.indexOf("\n")) >= 0) {
        const line = pending.slice(0, newline);
        pending = pending.slice(newline + 1);
        if (line === "ready") ready();
        else received.push(line);
      }
    }
  })();
  const timer = setTimeout(() => child.kill(), 5_000);
  await Promise.race([readyPromise, child.exited]);
  clearTimeout(timer);
  if (child.exitCode !== null) throw new Error("the syslog receiver (python3) did not start");
  return {
    path,
    lines: () => [...received],
    async waitFor(pattern, timeoutMs = 5_000) {
      const end = Date.now() + timeoutMs;
      for (;;) {
        const line = received.find((l) => pattern.test(l));
        if (line !== undefined) return line;
        if (Date.now() > end) throw new Error(`no syslog line matching ${pattern} within ${timeoutMs} ms; received:\n${received.join("\n")}`);
        await Bun.sleep(10);
      }
    },
    stop() {
      child.kill();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
